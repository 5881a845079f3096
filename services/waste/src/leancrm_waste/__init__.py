"""The waste projector: the seven wastes and the value stream, live."""
