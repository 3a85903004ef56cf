"""What this CPU's instruction set offers, read once from ``/proc/cpuinfo``."""

import functools


@functools.lru_cache(maxsize=1)
def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            return set(cpuinfo.read().split())
    except OSError:  # not Linux: no fast paths that depend on the flags
        return set()


def cpu_has_native_bf16():
    """Whether this CPU multiplies bfloat16 natively (AVX512-BF16 or AMX)."""
    return bool({"avx512_bf16", "amx_bf16"} & _cpu_flags())


def cpu_has_int8_dot():
    """Whether this CPU has int8 dot-product instructions (AVX512-VNNI, AVX-VNNI or AMX)."""
    return bool({"avx512_vnni", "avx_vnni", "amx_int8"} & _cpu_flags())


def cpu_vector_extension():
    """The widest vector instructions the event-driven kernel uses here: 'AVX-512', 'AVX2' or None.

    These are the flags ``_cscan.c`` asks the CPU for (``avx512f``; ``avx2``
    with ``fma``); None means its portable kernel runs.
    """
    flags = _cpu_flags()
    if "avx512f" in flags:
        return "AVX-512"
    if {"avx2", "fma"} <= flags:
        return "AVX2"
    return None
