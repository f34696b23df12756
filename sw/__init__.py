"""Software side of the BBCU FPGA accelerator: float model, compiler, golden model, host driver."""
