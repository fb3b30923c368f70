"""HL7 v2 ADT over MLLP: the listener hospitals' feeds send to, and its translation."""
