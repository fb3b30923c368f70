"""The HTTP API and the whiteboard socket: reads come from the Redis view, writes go to the log.

No route writes Redis: a change a user makes is published as an event, and it reaches the
view, and every board, the same way a change from any other source does.
"""
