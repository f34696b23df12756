"""Row-serial accelerator: one shared datapath for every layer, for the iCE40UP5K (iCEBreaker).

The dataflow accelerator (`hw.network`, one hardware unit per layer, all busy at once) cannot be
shrunk to the UP5K: its per-layer fixed part is ~1-1.4k LC, 13 EBR and 3 SB_MAC16, ten times for
x2-tiny (docs/boards.md "What the gateware needs for x2-tiny on the UP5K"). The row-serial
architecture computes one output *row* of one layer at a time on shared datapaths, and keeps
between layers only the rows that are still needed, in memory rings:

- the full-precision features of the low-resolution (LR) rows, updated in place by every BBCU-B
  (out = f(bits) + in at the same pixel, so a layer's output row overwrites its input row),
- one ring of binarised rows (C bits per pixel) per binary layer, written by the layer before it
  through the next layer's thresholds,
- the high-resolution (HR) features and bits after the BBCU-U, and the input pixels the head
  and the tail's bilinear skip read.

A static wavefront schedule (`schedule.py`) orders the row jobs so that each job finds the rows
it reads already written and the rings never overwrite a row that is still needed; the same
module sizes the rings, counts the memory, models the cycles and runs the schedule on the memory
layout bit-exactly against the golden model. The stripe protocol of the host link does not
change, so the host driver and the golden model serve both architectures.
"""
