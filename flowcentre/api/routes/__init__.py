"""One router a resource, each under ``/api/v1``; ``health`` sits outside the version."""
