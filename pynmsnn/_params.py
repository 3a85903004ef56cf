"""Declarative parameter checks in scikit-learn's style, on public Python only.

An estimator lists, for each parameter, the constraints a value may meet
(``_parameter_constraints``, as scikit-learn's estimators do); :func:`validate`
checks the values against them and raises :class:`InvalidParameterError`, a
ValueError and a TypeError, whose message names the parameter, every form it
may take and the value given, in scikit-learn's words. A constraint is

* an :class:`Interval`, :class:`StrOptions` or :class:`Options`;
* a type, met by its instances;
* None, met by None;
* ``"boolean"`` (bool or numpy bool), ``"array-like"`` (a sequence or array,
  not a string), ``"random_state"`` (None, an int in [0, 2**32 - 1] or a
  ``RandomState``) or ``"verbose"`` (an int >= 0 or a boolean).

Examples
--------
>>> from numbers import Integral
>>> from pynmsnn._params import Interval, StrOptions, validate
>>> constraints = {"size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")]}
>>> validate({"size": 0}, constraints, "Model")
Traceback (most recent call last):
...
pynmsnn._params.InvalidParameterError: The 'size' parameter of Model must be a str among {'auto'} or an int in the range [1, inf). Got 0 instead.
"""

import dataclasses
import math
from numbers import Integral, Real

import numpy as np

__all__ = ["InvalidParameterError", "Interval", "Options", "StrOptions", "validate"]


class InvalidParameterError(ValueError, TypeError):
    """A parameter's value that none of its constraints allows (a ValueError and a TypeError, as in scikit-learn)."""


@dataclasses.dataclass(frozen=True)
class Interval:
    """Numbers of ``type`` (Integral or Real) between ``left`` and ``right`` (None: unbounded).

    ``closed`` is 'left', 'right', 'both' or 'neither': which ends belong to it.
    NaN is in no interval.
    """

    type: type
    left: object
    right: object
    closed: str

    def __post_init__(self):
        if self.type not in (Integral, Real) or self.closed not in ("left", "right", "both", "neither"):
            raise ValueError(f"Interval(type={self.type!r}, closed={self.closed!r}): type Integral or Real, "
                             "closed one of 'left', 'right', 'both', 'neither'.")

    def is_satisfied_by(self, value):
        if not isinstance(value, self.type) or (isinstance(value, Real) and math.isnan(value)):
            return False
        if self.left is not None and (value < self.left or (value == self.left and self.closed in ("right", "neither"))):
            return False
        return self.right is None or not (
            value > self.right or (value == self.right and self.closed in ("left", "neither")))

    def __str__(self):
        kind = "an int" if self.type is Integral else "a float"
        left = "-inf" if self.left is None else self._bound(self.left)
        right = "inf" if self.right is None else self._bound(self.right)
        opening = "[" if self.closed in ("left", "both") and self.left is not None else "("
        closing = "]" if self.closed in ("right", "both") and self.right is not None else ")"
        return f"{kind} in the range {opening}{left}, {right}{closing}"

    def _bound(self, value):
        return str(float(value)) if self.type is Real else str(value)


@dataclasses.dataclass(frozen=True)
class StrOptions:
    """Strings among ``options``."""

    options: frozenset

    def __init__(self, options):
        object.__setattr__(self, "options", frozenset(options))

    def is_satisfied_by(self, value):
        return isinstance(value, str) and value in self.options

    def __str__(self):
        return f"a str among {{{', '.join(repr(option) for option in sorted(self.options))}}}"


@dataclasses.dataclass(frozen=True)
class Options:
    """Values of ``type`` among ``values``, such as ``Options(Real, {inf})``."""

    type: type
    values: frozenset

    def __init__(self, type, values):
        object.__setattr__(self, "type", type)
        object.__setattr__(self, "values", frozenset(values))

    def is_satisfied_by(self, value):
        return isinstance(value, self.type) and value in self.values

    def __str__(self):
        kind = {Integral: "an int", Real: "a float"}.get(self.type, f"a {self.type.__name__}")
        return f"{kind} among {{{', '.join(str(value) for value in sorted(self.values))}}}"


_RANDOM_STATE_INT = Interval(Integral, 0, 2**32 - 1, closed="both")
_VERBOSE_INT = Interval(Integral, 0, None, closed="left")


def _is_array_like(value):
    return (hasattr(value, "__len__") or hasattr(value, "shape") or hasattr(value, "__array__")) and not (
        isinstance(value, str) or np.isscalar(value))


def _is_boolean(value):
    return isinstance(value, (bool, np.bool_))


_NAMED = {
    "boolean": (_is_boolean, "an instance of 'bool' or an instance of 'numpy.bool'"),
    "array-like": (_is_array_like, "an array-like"),
    "random_state": (
        lambda v: v is None or isinstance(v, np.random.RandomState) or _RANDOM_STATE_INT.is_satisfied_by(v),
        f"{_RANDOM_STATE_INT}, an instance of 'numpy.random.mtrand.RandomState' or None",
    ),
    "verbose": (lambda v: _VERBOSE_INT.is_satisfied_by(v) or _is_boolean(v),
                f"{_VERBOSE_INT}, an instance of 'bool' or an instance of 'numpy.bool'"),
}


def is_satisfied(constraint, value):
    """Whether ``value`` meets one ``constraint``."""
    if constraint is None:
        return value is None
    if isinstance(constraint, str):
        return _NAMED[constraint][0](value)
    if isinstance(constraint, type):
        return isinstance(value, constraint)
    return constraint.is_satisfied_by(value)


def describe(constraint):
    """A constraint in words, as scikit-learn words it."""
    if constraint is None:
        return "None"
    if isinstance(constraint, str):
        return _NAMED[constraint][1]
    if isinstance(constraint, type):
        return f"an instance of {constraint.__qualname__!r}" if constraint.__module__ == "builtins" else (
            f"an instance of '{constraint.__module__}.{constraint.__qualname__}'")
    return str(constraint)


def validate(params, constraints, owner):
    """Check each value of ``params`` that ``constraints`` names; raise :class:`InvalidParameterError`.

    Parameters
    ----------
    params : dict
        ``{name: value}``, as ``get_params(deep=False)`` gives them.
    constraints : dict of str to list
        ``{name: [constraint, ...]}``; a value must meet one of its list.
    owner : str
        The class name the message names.
    """
    for name, value in params.items():
        allowed = constraints.get(name)
        if allowed is None or any(is_satisfied(constraint, value) for constraint in allowed):
            continue
        words = [describe(constraint) for constraint in allowed]
        forms = words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"
        raise InvalidParameterError(f"The {name!r} parameter of {owner} must be {forms}. Got {value!r} instead.")
