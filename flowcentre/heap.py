"""Keeping what a long-running process builds at start out of garbage collection pauses."""

import gc


def freeze_start_up_objects() -> None:
    """Exclude every object alive now from all later collections: call it once, when what
    is alive is what lives as long as the process.

    The modules, classes, validators and configuration loaded at start are a hundred
    thousand objects or more that live as long as the process. A full collection walked
    them all each time: pauses of 150 to 300 ms in the middle of the stream on these
    machines (``docs/performance.md``). Frozen objects are still freed when nothing refers
    to them, but a garbage cycle that takes in a frozen object is never collected, nor is
    anything only it refers to: hence only what start-up built, after a collection.
    """
    gc.collect()
    gc.freeze()
