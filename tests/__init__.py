"""Flow Centre's test suite: unit (pure core), integration (one adapter, real servers), e2e."""
