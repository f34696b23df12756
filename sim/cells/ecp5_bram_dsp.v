// Behavioural simulation models of the two ECP5 primitives that yosys' synth_ecp5 instantiates but
// ships only as blackboxes (techlibs/lattice/cells_bb_ecp5.v): the DP16KD block RAM and the
// MULT18X18D multiplier. Written for the post-synthesis proof (sim/postsynth.py); they cover the
// configurations yosys' own mapping files produce (lattice/brams_map_16kd.v, dsp_map_18x18.v) and
// stop the simulation ($fatal) on any parameter they do not model, instead of guessing.
//
// DP16KD, as mapped by yosys:
//   * 18 Kbit = 1024 words of 18 bits. Port widths 1, 2, 4, 9, 18 (true dual port: ADx[13:4] is the
//     18-bit word, x9 uses ADx[3] for the half, x1/x2/x4 address the 16 data bits of a word, the two
//     9th bits being reachable only at x9/x18), and 36 (pseudo dual port, as $__PDPW16KD_: port A
//     writes, port B reads; word ADx[13:5] = 18-bit words 2j (DIA/DOA) and 2j+1 (DIB/DOB)).
//   * At x18 ADx[1:0] are the write enables of the two 9-bit bytes; at x36 ADA[3:0] of the four.
//   * REGMODE "NOREG" (the output is the read latch) and "OUTREG" (boards/outreg.py, after synthesis):
//     an output register behind the latch, loaded from it at a clock edge when OCEx is high (x36:
//     both halves with CLKB / OCEB, both REGMODEs alike, as nextpnr packs a PDPW16KD's REGMODE and
//     OCER). RSTx with an output register is not modelled: the latch and register become X.
//     CSDECODE against CSx[2:0].
//   * WRITEMODE per port: NORMAL (output holds during a write), WRITETHROUGH (shows the new word),
//     READBEFOREWRITE (shows the old word).
//   * RSTx clears the output latch (RESETMODE SYNC: at the clock edge; ASYNC: at once).
//   * Undefined behaviour is made visible as X: a read of a word that the other port writes at the
//     same edge (the device does not define the result), X on a used control or address input, and
//     a write with an unknown address (the whole array becomes X).
//   * Initial contents: INITVAL_00..3F (16 x 20-bit slots of which 18 bits are used, as yosys
//     writes them). sim/postsynth.py replaces them by X for blocks that are written.
//   * Word-level storage: an access touches one 18-bit word (x36: two), so a clock edge costs a few
//     word operations (the SR x2 ECP5 netlist has five of these blocks).
//
// MULT18X18D: the combinational configuration dsp_map_18x18.v uses (every REG_* = "NONE",
// SOURCEA/B = 0, no cascade): P = A * B, each operand signed when SIGNEDA / SIGNEDB; and with the
// output register that boards/outreg.py gives it (REG_OUTPUT_CLK "CLK0", REG_OUTPUT_CE "CE0",
// REG_OUTPUT_RST "RST0", the other registers "NONE"): P is loaded with A * B at a rising edge of
// CLK0 when CE0 is high. Its reset is not modelled: RST0 other than 0 makes P unknown.
`timescale 1ps / 1ps

module DP16KD(
	input DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0,
	input ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0,
	input CEA, OCEA, CLKA, WEA, RSTA,
	input CSA2, CSA1, CSA0,
	output DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0,
	input DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0,
	input ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0,
	input CEB, OCEB, CLKB, WEB, RSTB,
	input CSB2, CSB1, CSB0,
	output DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0
);
	parameter DATA_WIDTH_A = 18;
	parameter DATA_WIDTH_B = 18;
	parameter REGMODE_A = "NOREG";
	parameter REGMODE_B = "NOREG";
	parameter RESETMODE = "SYNC";
	parameter ASYNC_RESET_RELEASE = "SYNC";
	parameter CSDECODE_A = "0b000";
	parameter CSDECODE_B = "0b000";
	parameter WRITEMODE_A = "NORMAL";
	parameter WRITEMODE_B = "NORMAL";
	parameter CLKAMUX = "CLKA";
	parameter CLKBMUX = "CLKB";
	parameter GSR = "ENABLED";
	parameter INIT_DATA = "STATIC";
	parameter INITVAL_00 = 320'h0; parameter INITVAL_01 = 320'h0; parameter INITVAL_02 = 320'h0; parameter INITVAL_03 = 320'h0;
	parameter INITVAL_04 = 320'h0; parameter INITVAL_05 = 320'h0; parameter INITVAL_06 = 320'h0; parameter INITVAL_07 = 320'h0;
	parameter INITVAL_08 = 320'h0; parameter INITVAL_09 = 320'h0; parameter INITVAL_0A = 320'h0; parameter INITVAL_0B = 320'h0;
	parameter INITVAL_0C = 320'h0; parameter INITVAL_0D = 320'h0; parameter INITVAL_0E = 320'h0; parameter INITVAL_0F = 320'h0;
	parameter INITVAL_10 = 320'h0; parameter INITVAL_11 = 320'h0; parameter INITVAL_12 = 320'h0; parameter INITVAL_13 = 320'h0;
	parameter INITVAL_14 = 320'h0; parameter INITVAL_15 = 320'h0; parameter INITVAL_16 = 320'h0; parameter INITVAL_17 = 320'h0;
	parameter INITVAL_18 = 320'h0; parameter INITVAL_19 = 320'h0; parameter INITVAL_1A = 320'h0; parameter INITVAL_1B = 320'h0;
	parameter INITVAL_1C = 320'h0; parameter INITVAL_1D = 320'h0; parameter INITVAL_1E = 320'h0; parameter INITVAL_1F = 320'h0;
	parameter INITVAL_20 = 320'h0; parameter INITVAL_21 = 320'h0; parameter INITVAL_22 = 320'h0; parameter INITVAL_23 = 320'h0;
	parameter INITVAL_24 = 320'h0; parameter INITVAL_25 = 320'h0; parameter INITVAL_26 = 320'h0; parameter INITVAL_27 = 320'h0;
	parameter INITVAL_28 = 320'h0; parameter INITVAL_29 = 320'h0; parameter INITVAL_2A = 320'h0; parameter INITVAL_2B = 320'h0;
	parameter INITVAL_2C = 320'h0; parameter INITVAL_2D = 320'h0; parameter INITVAL_2E = 320'h0; parameter INITVAL_2F = 320'h0;
	parameter INITVAL_30 = 320'h0; parameter INITVAL_31 = 320'h0; parameter INITVAL_32 = 320'h0; parameter INITVAL_33 = 320'h0;
	parameter INITVAL_34 = 320'h0; parameter INITVAL_35 = 320'h0; parameter INITVAL_36 = 320'h0; parameter INITVAL_37 = 320'h0;
	parameter INITVAL_38 = 320'h0; parameter INITVAL_39 = 320'h0; parameter INITVAL_3A = 320'h0; parameter INITVAL_3B = 320'h0;
	parameter INITVAL_3C = 320'h0; parameter INITVAL_3D = 320'h0; parameter INITVAL_3E = 320'h0; parameter INITVAL_3F = 320'h0;

	wire [17:0] dia = {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0};
	wire [17:0] dib = {DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0};
	wire [13:0] ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0};
	wire [13:0] adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0};
	reg [17:0] doa, dob;                      // the read latches
	reg [17:0] oa, ob;                        // the output registers (REGMODE "OUTREG"; no power-up value)
	localparam OUTREG_A = (REGMODE_A == "OUTREG"), OUTREG_B = (REGMODE_B == "OUTREG");
	assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = OUTREG_A ? oa : doa;
	assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = OUTREG_B ? ob : dob;

	localparam PDP = (DATA_WIDTH_A == 36);    // pseudo dual port: A writes 36 bits, B reads

	reg [17:0] w [0:1023];                    // the array, as 18-bit words
	integer k;
	initial begin
		if (!(REGMODE_A == "NOREG" || REGMODE_A == "OUTREG") || !(REGMODE_B == "NOREG" || REGMODE_B == "OUTREG") ||
		    (PDP && REGMODE_A != REGMODE_B))
			$fatal(1, "%m: DP16KD model: REGMODE %s / %s not modelled", REGMODE_A, REGMODE_B);
		if (!(DATA_WIDTH_A == 1 || DATA_WIDTH_A == 2 || DATA_WIDTH_A == 4 || DATA_WIDTH_A == 9 ||
		      DATA_WIDTH_A == 18 || DATA_WIDTH_A == 36) ||
		    !(DATA_WIDTH_B == 1 || DATA_WIDTH_B == 2 || DATA_WIDTH_B == 4 || DATA_WIDTH_B == 9 ||
		      DATA_WIDTH_B == 18 || DATA_WIDTH_B == 36) ||
		    (DATA_WIDTH_B == 36 && !PDP))
			$fatal(1, "%m: DP16KD model: widths %0d / %0d not modelled", DATA_WIDTH_A, DATA_WIDTH_B);
		if (!(RESETMODE == "SYNC" || RESETMODE == "ASYNC"))
			$fatal(1, "%m: DP16KD model: RESETMODE %s", RESETMODE);
		for (k = 0; k < 1024; k = k + 1)
			w[k] = slot(k >> 4, k & 15);
		doa = 18'b0;
		dob = 18'b0;
	end

	function [319:0] initval;
		input integer idx;
		case (idx)
			'h00: initval = INITVAL_00; 'h01: initval = INITVAL_01; 'h02: initval = INITVAL_02; 'h03: initval = INITVAL_03;
			'h04: initval = INITVAL_04; 'h05: initval = INITVAL_05; 'h06: initval = INITVAL_06; 'h07: initval = INITVAL_07;
			'h08: initval = INITVAL_08; 'h09: initval = INITVAL_09; 'h0A: initval = INITVAL_0A; 'h0B: initval = INITVAL_0B;
			'h0C: initval = INITVAL_0C; 'h0D: initval = INITVAL_0D; 'h0E: initval = INITVAL_0E; 'h0F: initval = INITVAL_0F;
			'h10: initval = INITVAL_10; 'h11: initval = INITVAL_11; 'h12: initval = INITVAL_12; 'h13: initval = INITVAL_13;
			'h14: initval = INITVAL_14; 'h15: initval = INITVAL_15; 'h16: initval = INITVAL_16; 'h17: initval = INITVAL_17;
			'h18: initval = INITVAL_18; 'h19: initval = INITVAL_19; 'h1A: initval = INITVAL_1A; 'h1B: initval = INITVAL_1B;
			'h1C: initval = INITVAL_1C; 'h1D: initval = INITVAL_1D; 'h1E: initval = INITVAL_1E; 'h1F: initval = INITVAL_1F;
			'h20: initval = INITVAL_20; 'h21: initval = INITVAL_21; 'h22: initval = INITVAL_22; 'h23: initval = INITVAL_23;
			'h24: initval = INITVAL_24; 'h25: initval = INITVAL_25; 'h26: initval = INITVAL_26; 'h27: initval = INITVAL_27;
			'h28: initval = INITVAL_28; 'h29: initval = INITVAL_29; 'h2A: initval = INITVAL_2A; 'h2B: initval = INITVAL_2B;
			'h2C: initval = INITVAL_2C; 'h2D: initval = INITVAL_2D; 'h2E: initval = INITVAL_2E; 'h2F: initval = INITVAL_2F;
			'h30: initval = INITVAL_30; 'h31: initval = INITVAL_31; 'h32: initval = INITVAL_32; 'h33: initval = INITVAL_33;
			'h34: initval = INITVAL_34; 'h35: initval = INITVAL_35; 'h36: initval = INITVAL_36; 'h37: initval = INITVAL_37;
			'h38: initval = INITVAL_38; 'h39: initval = INITVAL_39; 'h3A: initval = INITVAL_3A; 'h3B: initval = INITVAL_3B;
			'h3C: initval = INITVAL_3C; 'h3D: initval = INITVAL_3D; 'h3E: initval = INITVAL_3E; default: initval = INITVAL_3F;
		endcase
	endfunction

	function [17:0] slot;
		input integer idx, i;
		reg [319:0] v;
		begin
			v = initval(idx);
			slot = v[i * 20 +: 18];
		end
	endfunction

	// ---- addressing. Every access lies in one 18-bit word (x36: two), ADx[13:4] (x36: {ADx[13:5], k}).
	// Within it: x18 all bits, x9 the half ADx[3], x4/x2/x1 the data bits (word bits 0-7 and 9-16)
	// ADx[3:2] * 4, ADx[3:1] * 2, ADx[3:0].
	function [13:0] addr_used;                // the address bits that are address, not byte enables
		input integer width;
		case (width)
			36: addr_used = 14'b11111111100000;
			18: addr_used = 14'b11111111110000;
			9:  addr_used = 14'b11111111111000;
			4:  addr_used = 14'b11111111111100;
			2:  addr_used = 14'b11111111111110;
			default: addr_used = 14'b11111111111111;
		endcase
	endfunction

	function integer lsb_of;
		input integer width;
		input [13:0] ad;
		integer d;
		begin
			case (width)
				36, 18: d = 0;
				9: d = 9 * ad[3];
				4: d = 4 * ad[3:2];
				2: d = 2 * ad[3:1];
				default: d = ad[3:0];
			endcase
			lsb_of = (width <= 4 && d >= 8) ? d + 1 : d;
		end
	endfunction

	function [9:0] word_of;
		input integer width;
		input [13:0] ad;
		input k;
		word_of = (width == 36) ? {ad[13:5], k} : ad[13:4];
	endfunction

	// the bits of word k that an access covers; with byte enables (writes at x18 / x36: ADx[1:0] / [3:0])
	function [17:0] mask_of;
		input integer width;
		input [13:0] ad;
		input k;
		input be;
		case (width)
			36: mask_of = be ? {{9{ad[2 * k + 1]}}, {9{ad[2 * k]}}} : 18'h3ffff;
			18: mask_of = be ? {{9{ad[1]}}, {9{ad[0]}}} : 18'h3ffff;
			default: mask_of = ((18'h1 << width) - 18'h1) << lsb_of(width, ad);
		endcase
	endfunction

	function cs_match;
		input [39:0] decode;                   // "0bXYZ"
		input [2:0] cs;
		cs_match = (cs === {decode[23:16] == "1", decode[15:8] == "1", decode[7:0] == "1"});
	endfunction

	// the data a port reads (before this edge's writes), in bits [width-1:0] (x36: {word 1, word 0})
	function [35:0] read_port;
		input integer width;
		input [13:0] ad;
		reg [35:0] m;
		begin
			m = (width == 36) ? {36{1'b1}} : ((36'h1 << width) - 36'h1);
			if (^ad === 1'bx)
				read_port = 36'bx;
			else if (width == 36)
				read_port = {w[word_of(36, ad, 1'b1)], w[word_of(36, ad, 1'b0)]};
			else
				read_port = (({18'b0, w[word_of(width, ad, 1'b0)]} >> lsb_of(width, ad)) & m) | (~m & 36'bx);
		end
	endfunction

	// X in the bits of a read (port width rw at ra) that a write (width ww at wa, raw address wraw for
	// the byte enables) changes at the same edge
	function [35:0] collide;
		input integer rw;
		input [13:0] ra;
		input integer ww;
		input [13:0] wa, wraw;
		integer i, j;
		reg [17:0] both;
		begin
			collide = 36'b0;
			if (^ra === 1'bx || ^wa === 1'bx)
				collide = {36{1'bx}};
			else
				for (i = 0; i < (rw == 36 ? 2 : 1); i = i + 1)
					for (j = 0; j < (ww == 36 ? 2 : 1); j = j + 1)
						if (word_of(rw, ra, i[0]) == word_of(ww, wa, j[0])) begin
							both = mask_of(rw, ra, i[0], 1'b0) & mask_of(ww, wraw, j[0], 1'b1);
							// 1 -> x, x -> x (an unknown byte enable), 0 -> 0
							collide = collide | ((({18'b0, both} >> lsb_of(rw, ra)) << (18 * i)) & {36{1'bx}});
						end
		end
	endfunction

	task write_port;
		input integer width;
		input [13:0] ad;                      // address bits in use
		input [13:0] ad_raw;                  // with the byte enables
		input [35:0] di;                      // x36: {DIB, DIA}; else DIA / DIB in [17:0]
		input known;                          // WE, CE, CS all known and active
		integer j;
		reg [17:0] m, d;
		reg [9:0] wi;
		begin
			if (^ad === 1'bx) begin
				$display("%m: DP16KD write with an unknown address at %0t: the whole array becomes X", $time);
				for (j = 0; j < 1024; j = j + 1) w[j] = 18'bx;
			end else
				for (j = 0; j < (width == 36 ? 2 : 1); j = j + 1) begin
					wi = word_of(width, ad, j[0]);
					m = mask_of(width, ad_raw, j[0], 1'b1);
					d = (width == 36) ? di[18 * j +: 18] : (di[17:0] << lsb_of(width, ad));
					if (!known) d = 18'bx;
					// where the enable is unknown (m bit X) the bit becomes X
					w[wi] = ((w[wi] & ~m) | (d & m)) ^ (m ^ m);
				end
		end
	endtask

	wire clka = (CLKAMUX == "INV") ? ~CLKA : CLKA;
	wire clkb = (CLKBMUX == "INV") ? ~CLKB : CLKB;
	reg clka_q = 1'b0, clkb_q = 1'b0;

	// both ports in one process, so that a same-edge read of a word the other port writes is seen;
	// the output latches change with non-blocking assignments, like the flip-flops they feed
	always @(posedge clka or posedge clkb) begin : edge_
		reg edge_a, edge_b, ea, eb, wa, wb;
		reg [13:0] aa, ab;
		integer wda, wdb, ra, rb;
		reg [35:0] old_a, old_b;
		wda = DATA_WIDTH_A; wdb = DATA_WIDTH_B;
		ra = PDP ? 0 : wda;                    // read width of each port (A does not read at x36)
		rb = wdb;
		aa = ada & addr_used(wda);
		ab = adb & addr_used(wdb);
		// an edge of each port's clock now (both, when CLKA and CLKB are the same net)
		edge_a = clka && !clka_q;
		edge_b = clkb && !clkb_q;
		clka_q = clka; clkb_q = clkb;
		ea = edge_a && cs_match(CSDECODE_A, {CSA2, CSA1, CSA0}) !== 1'b0 && CEA !== 1'b0;
		eb = edge_b && cs_match(CSDECODE_B, {CSB2, CSB1, CSB0}) !== 1'b0 && CEB !== 1'b0;
		wa = ea && WEA !== 1'b0;
		wb = eb && WEB !== 1'b0;

		// reads see the array before this edge's writes; bits the other port writes now are X
		old_a = 36'bx; old_b = 36'bx;
		if (ea && ra > 0) old_a = read_port(ra, aa);
		if (eb) old_b = read_port(rb, ab);
		if (ea && ra > 0 && wb) old_a = old_a ^ collide(ra, aa, wdb, ab, adb);
		if (eb && wa) old_b = old_b ^ collide(rb, ab, wda, aa, ada);

		// writes
		if (wa) write_port(wda, aa, ada, {dib, dia},
		                   WEA === 1'b1 && CEA === 1'b1 && cs_match(CSDECODE_A, {CSA2, CSA1, CSA0}) === 1'b1);
		if (wb) write_port(wdb, ab, adb, {18'bx, dib},
		                   WEB === 1'b1 && CEB === 1'b1 && cs_match(CSDECODE_B, {CSB2, CSB1, CSB0}) === 1'b1);

		// output registers: the latches before this edge (non-blocking: doa / dob are still the old values)
		if (PDP) begin
			if (edge_b && OUTREG_B) {ob, oa} <= out_reg({ob, oa}, {dob, doa}, OCEB, RSTB);
		end else begin
			if (edge_a && OUTREG_A) oa <= out_reg(oa, doa, OCEA, RSTA);
			if (edge_b && OUTREG_B) ob <= out_reg(ob, dob, OCEB, RSTB);
		end

		// output latches
		if (PDP) begin
			if (eb) begin
				if (CEB !== 1'b1) {dob, doa} <= 36'bx;
				else if (rb == 36) {dob, doa} <= old_b;
				else begin dob <= old_b[17:0]; doa <= 18'bx; end      // narrower reads come out on DOB
			end
		end else begin
			if (ea) doa <= port_out(WEA, CEA, WRITEMODE_A, ra, aa, old_a[17:0], doa);
			if (eb) dob <= port_out(WEB, CEB, WRITEMODE_B, rb, ab, old_b[17:0], dob);
		end
		if (RESETMODE == "SYNC") begin                          // not gated by CE
			if (edge_a && RSTA !== 1'b0) doa <= (RSTA === 1'b1 && WEA !== 1'b1 && !OUTREG_A) ? 18'b0 : 18'bx;
			if (edge_b && RSTB !== 1'b0) dob <= (RSTB === 1'b1 && WEB !== 1'b1 && !OUTREG_B) ? 18'b0 : 18'bx;
		end
	end

	// an output register after an edge of its clock
	function [35:0] out_reg;
		input [35:0] cur, latch;
		input oce, rst;
		if (rst !== 1'b0) out_reg = 36'bx;      // RST with OUTREG: not modelled
		else if (oce === 1'b1) out_reg = latch;
		else if (oce === 1'b0) out_reg = cur;
		else out_reg = cur ^ ((cur ^ latch) & 36'bx);     // unknown enable: X where they differ
	endfunction

	always @(negedge clka) clka_q = 1'b0;
	always @(negedge clkb) clkb_q = 1'b0;

	always @(posedge RSTA) if (RESETMODE == "ASYNC") begin
		doa <= OUTREG_A ? 18'bx : 18'b0;
		if (OUTREG_A) oa <= 18'bx;
	end
	always @(posedge RSTB) if (RESETMODE == "ASYNC") begin
		dob <= OUTREG_B ? 18'bx : 18'b0;
		if (OUTREG_B) ob <= 18'bx;
	end

	// the output latch of a (true dual port) port after an enabled edge
	function [17:0] port_out;
		input we, ce;
		input [127:0] mode;
		input integer rw;
		input [13:0] ad;
		input [17:0] old;                      // the addressed data before this edge's writes
		input [17:0] cur;                      // the latch now
		reg [35:0] now;
		begin
			if (ce !== 1'b1 || we === 1'bx || ^ad === 1'bx)
				port_out = 18'bx;
			else if (we === 1'b0 || mode == "READBEFOREWRITE")
				port_out = old;
			else if (mode == "WRITETHROUGH") begin     // the word as it is after the write
				now = read_port(rw, ad);
				port_out = now[17:0];
			end else if (mode == "NORMAL")            // the latch holds during a write
				port_out = cur;
			else begin
				$fatal(1, "%m: DP16KD model: WRITEMODE %s", mode);
				port_out = 18'bx;
			end
		end
	endfunction
endmodule


module MULT18X18D(
	input A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0,
	input B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0,
	input C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0,
	input SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
	input CLK3, CLK2, CLK1, CLK0, CE3, CE2, CE1, CE0, RST3, RST2, RST1, RST0,
	input SRIA17, SRIA16, SRIA15, SRIA14, SRIA13, SRIA12, SRIA11, SRIA10, SRIA9, SRIA8, SRIA7, SRIA6, SRIA5, SRIA4, SRIA3, SRIA2, SRIA1, SRIA0,
	input SRIB17, SRIB16, SRIB15, SRIB14, SRIB13, SRIB12, SRIB11, SRIB10, SRIB9, SRIB8, SRIB7, SRIB6, SRIB5, SRIB4, SRIB3, SRIB2, SRIB1, SRIB0,
	output SROA17, SROA16, SROA15, SROA14, SROA13, SROA12, SROA11, SROA10, SROA9, SROA8, SROA7, SROA6, SROA5, SROA4, SROA3, SROA2, SROA1, SROA0,
	output SROB17, SROB16, SROB15, SROB14, SROB13, SROB12, SROB11, SROB10, SROB9, SROB8, SROB7, SROB6, SROB5, SROB4, SROB3, SROB2, SROB1, SROB0,
	output ROA17, ROA16, ROA15, ROA14, ROA13, ROA12, ROA11, ROA10, ROA9, ROA8, ROA7, ROA6, ROA5, ROA4, ROA3, ROA2, ROA1, ROA0,
	output ROB17, ROB16, ROB15, ROB14, ROB13, ROB12, ROB11, ROB10, ROB9, ROB8, ROB7, ROB6, ROB5, ROB4, ROB3, ROB2, ROB1, ROB0,
	output ROC17, ROC16, ROC15, ROC14, ROC13, ROC12, ROC11, ROC10, ROC9, ROC8, ROC7, ROC6, ROC5, ROC4, ROC3, ROC2, ROC1, ROC0,
	output P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18,
	output P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0,
	output SIGNEDP
);
	parameter REG_INPUTA_CLK = "NONE";
	parameter REG_INPUTA_CE = "CE0";
	parameter REG_INPUTA_RST = "RST0";
	parameter REG_INPUTB_CLK = "NONE";
	parameter REG_INPUTB_CE = "CE0";
	parameter REG_INPUTB_RST = "RST0";
	parameter REG_INPUTC_CLK = "NONE";
	parameter REG_INPUTC_CE = "CE0";
	parameter REG_INPUTC_RST = "RST0";
	parameter REG_PIPELINE_CLK = "NONE";
	parameter REG_PIPELINE_CE = "CE0";
	parameter REG_PIPELINE_RST = "RST0";
	parameter REG_OUTPUT_CLK = "NONE";
	parameter REG_OUTPUT_CE = "CE0";
	parameter REG_OUTPUT_RST = "RST0";
	parameter CLK0_DIV = "ENABLED";
	parameter CLK1_DIV = "ENABLED";
	parameter CLK2_DIV = "ENABLED";
	parameter CLK3_DIV = "ENABLED";
	parameter HIGHSPEED_CLK = "NONE";
	parameter GSR = "ENABLED";
	parameter CAS_MATCH_REG = "FALSE";
	parameter SOURCEB_MODE = "B_SHIFT";
	parameter MULT_BYPASS = "DISABLED";
	parameter RESETMODE = "SYNC";

	localparam OUTREG = REG_OUTPUT_CLK != "NONE";
	initial
		if (REG_INPUTA_CLK != "NONE" || REG_INPUTB_CLK != "NONE" || REG_INPUTC_CLK != "NONE" ||
		    REG_PIPELINE_CLK != "NONE" || MULT_BYPASS != "DISABLED" ||
		    (OUTREG && (REG_OUTPUT_CLK != "CLK0" || REG_OUTPUT_CE != "CE0" || REG_OUTPUT_RST != "RST0")))
			$fatal(1, "%m: MULT18X18D model: only the unregistered multiplier and its output register on CLK0 / CE0 / RST0 are modelled");

	wire [17:0] a = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
	wire [17:0] b = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};
	// the 36-bit product of the sign- (or zero-) extended operands is the exact product
	wire [35:0] ax = {{18{SIGNEDA & a[17]}}, a};
	wire [35:0] bx = {{18{SIGNEDB & b[17]}}, b};
	wire [35:0] p = (SOURCEA === 1'b0 && SOURCEB === 1'b0) ? ax * bx : 36'bx;
	reg [35:0] p_reg = 36'bx;
	always @(posedge CLK0)
		if (OUTREG) begin
			if (RST0 !== 1'b0 || CE0 === 1'bx)
				p_reg <= 36'bx;
			else if (CE0)
				p_reg <= p;
		end
	wire [35:0] p_out = OUTREG ? p_reg : p;
	assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18,
	        P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = p_out;
	assign SIGNEDP = SIGNEDA | SIGNEDB;
	assign {ROA17, ROA16, ROA15, ROA14, ROA13, ROA12, ROA11, ROA10, ROA9, ROA8, ROA7, ROA6, ROA5, ROA4, ROA3, ROA2, ROA1, ROA0} = a;
	assign {ROB17, ROB16, ROB15, ROB14, ROB13, ROB12, ROB11, ROB10, ROB9, ROB8, ROB7, ROB6, ROB5, ROB4, ROB3, ROB2, ROB1, ROB0} = b;
	assign {ROC17, ROC16, ROC15, ROC14, ROC13, ROC12, ROC11, ROC10, ROC9, ROC8, ROC7, ROC6, ROC5, ROC4, ROC3, ROC2, ROC1, ROC0} = 18'b0;
	assign {SROA17, SROA16, SROA15, SROA14, SROA13, SROA12, SROA11, SROA10, SROA9, SROA8, SROA7, SROA6, SROA5, SROA4, SROA3, SROA2, SROA1, SROA0} = 18'b0;
	assign {SROB17, SROB16, SROB15, SROB14, SROB13, SROB12, SROB11, SROB10, SROB9, SROB8, SROB7, SROB6, SROB5, SROB4, SROB3, SROB2, SROB1, SROB0} = 18'b0;
endmodule
