"""Which of the engine's paths run on this machine, and why the others do not.

The estimators compute the same numbers everywhere; what the machine decides
is how fast. ``pynmsnn/_cscan.c`` is compiled when pynmsnn is installed, if a
C compiler and the Python headers are there. It runs the LIF scan of fit and
predict, event-driven prediction and the int8 digits of weight gradients;
without it a torch loop does the same work more slowly. The CPU's
instructions decide the rest. :func:`engine_paths` lists the paths,
``pynmsnn info`` prints them, and :func:`warn_if_kernel_missing` tells a user
who fits without the kernel how to get it.
"""

import functools
import inspect
import os
import platform
import shlex
import shutil
import sys
import sysconfig
import warnings
from dataclasses import dataclass

import torch

from . import _kernels
from ._cpu import cpu_has_int8_dot, cpu_has_native_bf16, cpu_vector_extension

__all__ = [
    "KERNEL_FIX",
    "EnginePath",
    "KernelMissingWarning",
    "engine_paths",
    "engine_report",
    "kernel_missing_reason",
    "kernel_summary",
    "warn_if_kernel_missing",
]

# How much longer fits take with the torch loop than with the C scan, measured
# on the demo's digits fit and smaller digits fits (2-core x86-64 CPU).
SLOWDOWN = "1.5-2.5 times"

KERNEL_FIX = (
    "install a C compiler and the Python headers (Debian/Ubuntu: sudo apt install gcc python3-dev; "
    "Fedora: sudo dnf install gcc python3-devel; macOS: xcode-select --install), then reinstall "
    "pynmsnn: in its source folder, run 'bash setup.sh' (or 'pip install --force-reinstall --no-deps .' "
    "in an environment of your own)"
)


class KernelMissingWarning(UserWarning):
    """pynmsnn's C kernel is not built, so fitting runs a slower torch loop."""


@dataclass(frozen=True)
class EnginePath:
    """One way the engine can run, whether it runs on this machine, and why.

    Parameters
    ----------
    name : str
        What the path is, e.g. ``'event-driven prediction'``.
    active : bool
        Whether it runs here.
    why : str
        What makes it run, or what keeps it from running.
    """

    name: str
    active: bool
    why: str


def _kernel():
    """The checked C kernels (:mod:`pynmsnn._kernels`), or None where ``_cscan`` was not built."""
    return _kernels if _kernels.HAVE_C_SCAN else None


def _compiler():
    """The C compiler setuptools would call: ``$CC``, else the one Python was built with."""
    command = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    words = shlex.split(command)
    return words[0] if words else "cc"


def kernel_missing_reason():
    """Why the C kernel is not built here, in a few words; None when it is built.

    Returns
    -------
    str or None
        ``'no C compiler: ...'``, ``'no Python headers: ...'``, or, where both
        are present, that the kernel was not built when pynmsnn was installed.
    """
    if _kernel() is not None:
        return None
    if sys.platform != "win32":  # setuptools finds MSVC without PATH: nothing to check there
        compiler = _compiler()
        if shutil.which(compiler) is None:
            return f"no C compiler: {compiler!r} is not on PATH"
        headers = os.path.join(sysconfig.get_paths()["include"], "Python.h")
        if not os.path.isfile(headers):
            return f"no Python headers: {headers} is missing"
    return "it was not built when pynmsnn was installed, though a C compiler and the Python headers are here now"


def _kernel_path(kernel, reason):
    if kernel is None:
        return EnginePath("C kernel", False, f"not built: {reason}")
    return EnginePath("C kernel", True, "pynmsnn/_cscan.c, compiled when pynmsnn was installed")


def _scan_path(kernel):
    if kernel is None:
        return EnginePath("LIF scan in C", False, f"no C kernel: a torch loop runs instead, fits take {SLOWDOWN} as long")
    return EnginePath("LIF scan in C", True, "fit and predict on the CPU")


def _event_path(kernel):
    if kernel is None:
        return EnginePath("event-driven prediction", False, "no C kernel: predict multiplies dense matrices")
    if not kernel.HAVE_EVENT_KERNEL:
        return EnginePath("event-driven prediction", False,
                          "the compiler lacked GCC 12's or clang's vector built-ins: predict multiplies dense matrices")
    extension = cpu_vector_extension()
    if extension is None:
        return EnginePath("event-driven prediction", True, "portable kernel: this CPU has no AVX-512 or AVX2")
    return EnginePath("event-driven prediction", True, f"{extension} kernel")


def _bfloat16_path():
    if cpu_has_native_bf16():
        return EnginePath("bfloat16 spike matmuls", True, "this CPU has native bfloat16 (AVX512-BF16 or AMX)")
    return EnginePath("bfloat16 spike matmuls", False,
                      "this CPU has no native bfloat16 (AVX512-BF16 or AMX): precision='auto' keeps float32")


def _int8_path(kernel):
    name = "int8 weight gradients"
    if not cpu_has_int8_dot():
        return EnginePath(name, False, "this CPU has no int8 dot products (AVX512-VNNI, AVX-VNNI or AMX)")
    if kernel is None:
        return EnginePath(name, False, "no C kernel: bfloat16 layers' weight gradients use a float32 matmul")
    where = "of bfloat16 layers" if cpu_has_native_bf16() else "of bfloat16 layers (precision='bfloat16')"
    return EnginePath(name, True, f"{where}: this CPU has int8 dot products")


def _cuda_path():
    if torch.cuda.is_available():
        return EnginePath("CUDA GPU", True, f"{torch.cuda.get_device_name(0)}: device='auto' fits there")
    build = "this torch is a CPU build" if torch.version.cuda is None else f"torch built for CUDA {torch.version.cuda}"
    return EnginePath("CUDA GPU", False, f"torch sees none ({build})")


def engine_paths():
    """The engine's paths and whether each runs on this machine.

    Returns
    -------
    list of EnginePath
        The C kernel, the LIF scan in C, event-driven prediction, bfloat16
        spike matmuls, int8 weight gradients and a CUDA GPU, in that order.

    Examples
    --------
    >>> from pynmsnn._engine_info import engine_paths
    >>> [path.name for path in engine_paths()][:2]
    ['C kernel', 'LIF scan in C']
    """
    kernel = _kernel()
    return [
        _kernel_path(kernel, kernel_missing_reason()),
        _scan_path(kernel),
        _event_path(kernel),
        _bfloat16_path(),
        _int8_path(kernel),
        _cuda_path(),
    ]


def engine_report():
    """What ``pynmsnn info`` prints: versions, then one line per engine path.

    Returns
    -------
    str
        Lines of the form ``on   C kernel   why``, and the fix when the
        kernel is missing.
    """
    from . import __version__

    paths = engine_paths()
    width = max(len(path.name) for path in paths)
    lines = [
        f"pynmsnn {__version__}, torch {torch.__version__}, Python {platform.python_version()}, "
        f"{platform.system()} {platform.machine()}",
        "engine paths on this machine:",
        *(f"  {'on' if path.active else 'off':<4} {path.name:<{width}}  {path.why}" for path in paths),
    ]
    if not paths[0].active:
        lines.append(f"to build the C kernel: {KERNEL_FIX}")
    return "\n".join(lines)


def kernel_summary():
    """One line saying whether the C kernel is built, and the fix when it is not.

    Examples
    --------
    >>> from pynmsnn._engine_info import kernel_summary
    >>> kernel_summary().startswith("C kernel: ")
    True
    """
    reason = kernel_missing_reason()
    if reason is None:
        return "C kernel: built (pynmsnn/_cscan.c); 'pynmsnn info' lists the engine paths on this machine"
    return f"C kernel: NOT built ({reason}); fits take {SLOWDOWN} as long. To build it, {KERNEL_FIX}"


def _fits_on_gpu(device):
    return device == "cuda" or (device == "auto" and torch.cuda.is_available())


def warn_if_kernel_missing(device="cpu"):
    """Warn, once per process, that fitting on the CPU runs without the C kernel.

    Parameters
    ----------
    device : {'auto', 'cpu', 'cuda'}, default='cpu'
        The estimator's ``device`` parameter: on a GPU the kernel plays no
        part and nothing is said.

    Returns
    -------
    bool
        Whether a fit on ``device`` runs without the kernel.

    Warns
    -----
    KernelMissingWarning
        The first time it returns True in this process, with the reason and the fix.
    """
    if _fits_on_gpu(device):
        return False
    if _kernel() is not None:
        return False
    _warn_once()
    return True


@functools.lru_cache(maxsize=1)
def _warn_once():
    """The warning itself; the cache makes a second call do nothing."""
    reason = kernel_missing_reason()
    warnings.warn(
        f"pynmsnn's C kernel is not built ({reason}), so fitting runs a torch loop and takes {SLOWDOWN} "
        f"as long. To build it, {KERNEL_FIX}. 'pynmsnn info' lists the engine paths on this machine.",
        KernelMissingWarning,
        stacklevel=_stacklevel_of_the_caller(),
    )


def _stacklevel_of_the_caller():
    """The ``stacklevel`` that points a warning at the first frame outside pynmsnn (the user's call)."""
    package = os.path.dirname(os.path.abspath(__file__))
    frame, level = inspect.currentframe().f_back, 1
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == package:
        frame, level = frame.f_back, level + 1
    return level
