"""The optional C kernel; the package's metadata is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    # The LIF scan's loops, event-driven prediction and the int8 digits in C,
    # several times faster than the torch loop on small layers. Optional: without
    # a C compiler and the Python headers the build goes on without it, the torch
    # loop runs instead, and `pynmsnn info` and the first fit say so.
    ext_modules=[
        Extension(
            "pynmsnn._cscan", ["pynmsnn/_cscan.c"], depends=["pynmsnn/_event_kernel.h"],
            extra_compile_args=["-O3", "-ffp-contract=off"], optional=True,
        )
    ],
)
