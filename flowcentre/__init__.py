"""Flow Centre: an event-driven patient flow control centre.

Every change to the live picture of beds, wards and patients enters as an event on a
Kafka topic; stream processors apply the events to a Redis view that the API and the
whiteboards read.
"""

__version__ = "0.1.0"
