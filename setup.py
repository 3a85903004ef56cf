"""Packaging for pynmsnn."""

import re
from pathlib import Path

from setuptools import Extension, find_packages, setup

HERE = Path(__file__).parent
VERSION = re.search(r'__version__ = "([^"]+)"', (HERE / "pynmsnn" / "__init__.py").read_text()).group(1)

setup(
    name="pynmsnn",
    version=VERSION,
    description="Spiking neural network estimators with a scikit-learn API",
    long_description=(HERE / "README.rst").read_text(encoding="utf-8"),
    long_description_content_type="text/x-rst",
    license="MIT",
    packages=find_packages(include=["pynmsnn", "pynmsnn.*"]),
    # The LIF scan's forward loop in C, several times faster than the torch loop
    # on small layers; optional: without a compiler the torch loop runs instead.
    ext_modules=[
        Extension(
            "pynmsnn._cscan", ["pynmsnn/_cscan.c"], depends=["pynmsnn/_event_kernel.h"],
            extra_compile_args=["-O3", "-ffp-contract=off"], optional=True,
        )
    ],
    python_requires=">=3.9",
    # A range, not a pin: an installed torch 2.x satisfies it and nothing is
    # downloaded. setup.sh installs the CPU build first when torch is missing.
    install_requires=[
        "torch>=2.1,<3",
        "numpy>=1.23",
        "pandas>=1.5",
        "scikit-learn>=1.6",
        "matplotlib>=3.6",
        "seaborn>=0.12",
        "tqdm>=4.60",
    ],
    extras_require={
        # Dask runs the cluster tests; nir, nirtorch and snntorch the NIR export's.
        # None of them pulls torch.
        "test": [
            "pytest>=7", "hypothesis>=6", "nbclient>=0.7", "nbformat>=5", "ipykernel>=6",
            "dask[distributed]>=2024.1", "dask-ml>=2024.1",
            "nir>=1.0.8", "nirtorch>=2.6", "snntorch>=0.9",
        ],
        "bench": ["snntorch>=0.9"],
        "dask": ["dask[distributed]>=2024.1", "dask-ml>=2024.1"],
    },
    entry_points={"console_scripts": ["pynmsnn=pynmsnn.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "License :: OSI Approved :: MIT License",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
