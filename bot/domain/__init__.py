"""Pure domain code: no I/O, no clocks read implicitly, no environment."""
