"""The pure core: events, the state they fold into, and the rules of the live picture.

Nothing here performs I/O or imports the broker, Redis or web libraries, so every rule
can be tested in milliseconds and reused unchanged by the worker, rebuild and API.
"""
