"""The inverters shipped with unembed, one folder per embedder (package data; loaded by unembed.load_inverter)."""
