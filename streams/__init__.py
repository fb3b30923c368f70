"""Stream processing: the Faust app and agents that apply the event log to the live view."""
