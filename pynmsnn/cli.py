"""The ``pynmsnn`` command.

::

    pynmsnn fit data.csv --target species [--model iris.pnm] [--report metrics.json] [options]
    pynmsnn predict iris.pnm new.csv [--output predictions.csv] [--proba]
    pynmsnn info [iris.pnm]
    pynmsnn demo

``fit`` reads a CSV, tells classification from regression by the target
column, holds out a test split to measure the model, fits an
:class:`~pynmsnn.SNNClassifier` or :class:`~pynmsnn.SNNRegressor` on the rest
and saves it with :func:`pynmsnn.save`. Every estimator parameter is an option
(``--hidden-layer-sizes 64,32 --n-steps 25 ...``), made from the estimators'
own parameters. ``predict`` writes predictions for a CSV, ``info`` describes a
saved model, or without one the engine paths that run on this machine, and
``demo`` fits the digits dataset and reports.

A problem with the input (a missing file or column, a bad option, a file that
is not a model) is reported as one line, ``pynmsnn: error: ...``, with a
non-zero exit status.
"""

import argparse
import json
import math
import os
import re
import sys
import time
import warnings
from numbers import Integral, Real

__all__ = ["main"]

# Integer targets with at most this many distinct values, each value seen on
# average in more than 1 / CLASS_FRACTION rows, are taken as class labels.
MAX_CLASSES = 20
CLASS_FRACTION = 0.05
# Parameters that mean nothing for a command that fits once, or that take no value but None.
_NOT_OPTIONS = {"warm_start", "activation"}
# Defaults that differ from the estimators': a command gives the same model run after run.
_COMMAND_DEFAULTS = {"random_state": 0}


class CommandError(Exception):
    """A problem with what the user asked for, reported as one line."""


class _Parser(argparse.ArgumentParser):
    """An argument parser that reports a usage error as one line, not usage text."""

    def error(self, message):
        raise CommandError(f"{message} (see '{self.prog} --help')")


# ------------------------------------------------------------------ estimator options
def _estimator_parameters():
    """``{name: (default, constraints, summary, class names)}`` for every estimator parameter."""
    from .estimators import SNNClassifier, SNNRegressor

    parameters = {}
    for cls in (SNNClassifier, SNNRegressor):
        for name, default in cls().get_params().items():
            if name in _NOT_OPTIONS:
                continue
            if name not in parameters:
                constraints = cls.parameter_constraints().get(name, [])
                parameters[name] = (_COMMAND_DEFAULTS.get(name, default), constraints, _summary(cls, name), [])
            parameters[name][3].append(cls.__name__)
    return parameters


def _summary(cls, name):
    """First sentence of the parameter's description in the class docstring."""
    found = re.search(rf"^ +{name} : [^\n]*\n((?: {{5,}}\S[^\n]*\n)+)", cls.__doc__ or "", re.M)
    if not found:
        return ""
    text = " ".join(found.group(1).split()).replace("``", "")
    return text.split(". ")[0].rstrip(".") + "."


# How a number looks in the help, and how an error message names it.
_NUMBERS = {
    "ints": ("N,N,...", "comma-separated integers such as 64,32"),
    "int": ("N", "an integer"),
    "float": ("X", "a number"),
}


def _value_kind(constraints):
    """What an option's text may be: ``(words, number)``, number one of ``_NUMBERS`` or None."""
    words = sorted(set().union(*(getattr(c, "options", set()) for c in constraints)))
    types = [getattr(c, "type", None) for c in constraints]
    names = [c for c in constraints if isinstance(c, str)]
    if "random_state" in names:
        words.append("none")
    if "array-like" in names:
        return words, "ints"
    if Integral in types or "verbose" in names or "random_state" in names:
        return words, "int"
    return words, "float" if Real in types else None


def _value_parser(name, constraints):
    """A function turning an option's text into a parameter value, read from its constraints."""
    words, number = _value_kind(constraints)
    convert = {"ints": lambda text: tuple(int(part) for part in text.split(",")), "int": int, "float": float}

    def parse(text):
        if text in words:
            return None if text == "none" else text
        try:
            return convert[number](text)
        except (KeyError, ValueError):
            expected = (["one of " + ", ".join(map(repr, words))] if words else []) + (
                [_NUMBERS[number][1]] if number else [])
            raise argparse.ArgumentTypeError(f"invalid value {text!r}; expected {' or '.join(expected)}") from None

    parse.__name__ = name
    return parse


def _metavar(constraints):
    """How the option's value looks in the help: {a,b}, N, X, N,N,... or a mix such as auto|N."""
    words, number = _value_kind(constraints)
    if number is None:
        return "{" + ",".join(words) + "}"
    return "|".join([*words, _NUMBERS[number][0]])


def _show_default(value):
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def _add_estimator_options(parser):
    group = parser.add_argument_group("estimator options (see SNNClassifier / SNNRegressor)")
    for name, (default, constraints, summary, owners) in _estimator_parameters().items():
        flag = "--" + name.replace("_", "-")
        only = "" if len(owners) == 2 else f" {owners[0]} only."
        help_text = f"{summary}{only} (default: {_show_default(default)})".replace("%", "%%")
        if "boolean" in constraints:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=argparse.SUPPRESS, help=help_text)
        else:
            group.add_argument(
                flag, type=_value_parser(name, constraints), default=argparse.SUPPRESS,
                metavar=_metavar(constraints), help=help_text,
            )


def _make_estimator(task, args):
    """The estimator for ``task`` with the command's defaults and the options given."""
    from .estimators import SNNClassifier, SNNRegressor

    cls = SNNClassifier if task == "classification" else SNNRegressor
    parameters = _estimator_parameters()
    given = {name: getattr(args, name) for name in parameters if hasattr(args, name)}
    foreign = [name for name in given if cls.__name__ not in parameters[name][3]]
    if foreign:
        flags = ", ".join("--" + name.replace("_", "-") for name in foreign)
        raise CommandError(f"{flags} does not apply to {task}; drop it or choose another --task")
    est = cls(**{**_COMMAND_DEFAULTS, **given})
    try:
        est.check_params()
    except ValueError as error:
        raise CommandError(f"bad estimator option: {error}") from None
    return est


# ------------------------------------------------------------------ data
def _read_csv(path):
    """A CSV file as a DataFrame, or a one-line error."""
    import pandas as pd

    if not os.path.exists(path):
        raise CommandError(f"data file {path!r} does not exist")
    if not os.path.isfile(path):
        raise CommandError(f"data file {path!r} is not a file")
    try:
        frame = pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise CommandError(f"cannot read {path!r} as CSV: {_one_line(error)}") from None
    if frame.empty:
        raise CommandError(f"{path!r} has a header but no data rows")
    # Rows are named in errors by their line in the file (line 1 is the header).
    frame.index = pd.RangeIndex(2, len(frame) + 2, name="CSV line")
    return frame


def _split_target(frame, target, path):
    if target not in frame.columns:
        raise CommandError(f"{path!r} has no column {target!r}; its columns are {_names(frame.columns)}")
    y = frame[target]
    missing = y.isna().to_numpy().nonzero()[0]
    if len(missing):
        lines = ", ".join(str(line) for line in y.index[missing[:5]])
        raise CommandError(
            f"target column {target!r} has {len(missing)} missing value(s) (CSV lines {lines}); "
            "drop those rows or fill them in"
        )
    X = frame.drop(columns=[target])
    if X.shape[1] == 0:
        raise CommandError(f"{path!r} has no feature columns besides the target {target!r}")
    return X, y


def detect_task(y):
    """``('classification' or 'regression', reason)`` for a target column.

    Text, category and bool targets are labels; so are integers with at most
    20 distinct values that each cover, on average, more than 20 rows (fewer
    than 5% as many distinct values as rows). Other numbers are regression targets.

    Examples
    --------
    >>> import pandas as pd
    >>> detect_task(pd.Series(["a", "b"] * 50))[0]
    'classification'
    >>> detect_task(pd.Series([0.5, 1.5, 2.25] * 50))[0]
    'regression'
    """
    import pandas as pd

    n_unique = y.nunique()
    if pd.api.types.is_bool_dtype(y):
        return "classification", "boolean target"
    if not pd.api.types.is_numeric_dtype(y):
        return "classification", f"text target with {n_unique} distinct values"
    if pd.api.types.is_integer_dtype(y) and n_unique <= MAX_CLASSES and n_unique < CLASS_FRACTION * len(y):
        return "classification", f"integer target with {n_unique} distinct values"
    return "regression", f"numeric target with {n_unique} distinct values"


def _choose_task(requested, y, target):
    import pandas as pd

    task, reason = detect_task(y)
    if requested == "auto":
        return task, reason
    if requested == "regression" and (pd.api.types.is_bool_dtype(y) or not pd.api.types.is_numeric_dtype(y)):
        raise CommandError(f"--task regression needs a numeric target, but {target!r} holds {y.dtype} values")
    return requested, "chosen with --task"


def _train_test_split(X, y, task, test_size, seed):
    from sklearn.model_selection import train_test_split

    if test_size == 0:
        return X, X.iloc[:0], y, y.iloc[:0]
    if task == "classification":
        try:
            return train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)
        except ValueError:
            pass  # a class too rare to stratify: a plain random split
    return train_test_split(X, y, test_size=test_size, random_state=seed)


def _metrics(est, X_test, y_test, task):
    from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, r2_score

    if len(y_test) == 0:
        return {}
    predicted = est.predict(X_test)
    if task == "classification":
        return {"accuracy": accuracy_score(y_test, predicted), "f1_macro": f1_score(y_test, predicted, average="macro")}
    truth = y_test.to_numpy(dtype=float)
    return {
        "r2": r2_score(truth, predicted),
        "mae": mean_absolute_error(truth, predicted),
        "rmse": math.sqrt(float(((truth - predicted) ** 2).mean())),
    }


# ------------------------------------------------------------------ commands
def _fit(args):
    from .persistence import save

    if not 0 <= args.test_size < 1:
        raise CommandError(f"--test-size must be in [0, 1), got {args.test_size}")
    model = args.model or os.path.splitext(os.path.basename(args.data))[0] + ".pnm"
    for option, path in [("--model", model), ("--report", args.report)]:
        _check_folder(option, path)
    frame = _read_csv(args.data)
    X, y = _split_target(frame, args.target, args.data)
    task, reason = _choose_task(args.task, y, args.target)
    est = _make_estimator(task, args)
    X_train, X_test, y_train, y_test = _train_test_split(X, y, task, args.test_size, est.random_state)
    start = time.perf_counter()
    est.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    save(est, model)
    report = {
        "data": args.data,
        "target": args.target,
        "task": task,
        "task_reason": reason,
        "estimator": type(est).__name__,
        "params": {k: list(v) if isinstance(v, tuple) else v for k, v in est.get_params().items()},
        "features": [str(c) for c in X.columns],
        "n_rows": len(frame),
        "n_train": len(X_train),
        "n_test": len(X_test),
        "n_iter": est.n_iter_,
        "final_loss": est.loss_curve_[-1],
        "fit_seconds": round(seconds, 3),
        "metrics": _metrics(est, X_test, y_test, task),
        "model": model,
    }
    if task == "classification":
        report["classes"] = est.classes_.tolist()
    _print_fit_report(report)
    if args.report:
        with open(args.report, "w", encoding="utf-8") as stream:
            json.dump(report, stream, indent=2)
        print(f"report:   {args.report}")
    return 0


def _check_folder(option, path):
    """Fail before a long fit, not after it, when an output's folder is missing."""
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CommandError(f"{option} {path}: the folder {folder!r} does not exist; create it first")


def _print_fit_report(report):
    print(f"data:     {report['data']}: {report['n_rows']} rows, {len(report['features'])} features, "
          f"target {report['target']!r}")
    print(f"task:     {report['task']} ({report['task_reason']}) -> {report['estimator']}")
    print(f"training: {report['n_train']} rows, {report['n_iter']} epochs in {report['fit_seconds']:.2f} s, "
          f"final loss {report['final_loss']:.4f}")
    names = {"accuracy": "accuracy", "f1_macro": "F1 (macro)", "r2": "R2", "mae": "MAE", "rmse": "RMSE"}
    scores = ", ".join(f"{names[k]} {v:.4f}" for k, v in report["metrics"].items())
    print(f"test:     {report['n_test']} rows, {scores}" if scores else "test:     none (--test-size 0)")
    print(f"model:    {report['model']}")


def _load_model(path):
    from .persistence import load

    return load(path)


def _features(est, frame, path):
    """The columns of ``frame`` the model was fitted on, in its order."""
    names = getattr(est, "feature_names_in_", None)
    if names is None:
        if frame.shape[1] != est.n_features_in_:
            raise CommandError(
                f"the model expects {est.n_features_in_} columns (it was fitted without column names) "
                f"but {path!r} has {frame.shape[1]}"
            )
        return frame.to_numpy()
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise CommandError(f"{path!r} lacks column(s) {_names(missing)} that the model was fitted on")
    return frame[list(names)]


def _predict(args):
    import pandas as pd

    est = _load_model(args.model)
    if args.proba and not hasattr(est, "predict_proba"):
        raise CommandError(f"--proba needs a classifier, but {args.model!r} holds an {type(est).__name__}")
    frame = _read_csv(args.data)
    X = _features(est, frame, args.data)
    predicted = est.predict(X)
    if predicted.ndim == 1:
        out = pd.DataFrame({"prediction": predicted})
    else:
        out = pd.DataFrame(predicted, columns=[f"prediction_{k}" for k in range(predicted.shape[1])])
    if args.proba:
        probabilities = est.predict_proba(X)
        for k, label in enumerate(est.classes_):
            out[f"proba_{label}"] = probabilities[:, k]
    if args.output:
        out.to_csv(args.output, index=False)
        print(f"wrote {len(out)} predictions to {args.output}")
    else:
        out.to_csv(sys.stdout, index=False)
    return 0


def _info(args):
    if args.model is None:
        from ._engine_info import engine_report

        print(engine_report())
        return 0
    from .persistence import read_metadata

    est = _load_model(args.model)  # a full load: info only describes files that load
    meta = read_metadata(args.model)
    if "object" in meta:
        return _info_tree(args, est, meta)
    network = meta["network"]
    scaler = meta["scaler"]  # the input scaling, as the file describes it
    features = list(getattr(est, "feature_names_in_", scaler["names_"]))
    print(f"file:       {args.model} ({os.path.getsize(args.model) / 1024:.1f} KiB)")
    print(f"estimator:  {meta['estimator']}")
    print(f"written by: pynmsnn {meta['pynmsnn_version']}, torch {meta['torch_version']} "
          f"(model format {meta['format_version']})")
    print(f"features:   {len(features)}: {', '.join(map(str, features))}")
    if scaler["categorical_"]:
        categorical = ", ".join(scaler["names_"][j] for j in scaler["categorical_"])
        print(f"inputs:     {len(est.get_input_names())} after one-hot encoding of {categorical}")
    if hasattr(est, "classes_"):
        print(f"classes:    {len(est.classes_)}: {', '.join(map(str, est.classes_))}")
    else:
        print(f"targets:    {est.n_outputs_}")
    sizes = " -> ".join(str(s) for s in [network["n_inputs"], *network["hidden_layer_sizes"], network["n_outputs"]])
    print(f"network:    {sizes}, {network['n_steps']} time steps, encoder {network['encoder']!r}, "
          f"readout {network['readout']!r}")
    final = f", final loss {est.loss_curve_[-1]:.4f}" if est.loss_curve_ else ""
    print(f"training:   {est.n_iter_} epochs (n_iter_){final}")
    print("parameters:")
    for name, value in est.get_params().items():
        print(f"  {name:<20} {value!r}")
    return 0


def _info_tree(args, est, meta):
    """``info`` for a file that holds a Pipeline or a search: its versions, inputs, classes and steps."""
    names = getattr(est, "feature_names_in_", None)
    features = f"{len(names)}: {', '.join(map(str, names))}" if names is not None else f"{est.n_features_in_}"
    print(f"file:       {args.model} ({os.path.getsize(args.model) / 1024:.1f} KiB)")
    print(f"estimator:  {type(est).__name__}")
    print(f"written by: pynmsnn {meta['pynmsnn_version']}, torch {meta['torch_version']}, scikit-learn "
          f"{meta['sklearn_version']} (model format {meta['format_version']})")
    print(f"features:   {features}")
    if hasattr(est, "classes_"):
        print(f"classes:    {len(est.classes_)}: {', '.join(map(str, est.classes_))}")
    print("model:")
    for line in repr(est).splitlines():
        print(f"  {line}")
    return 0


def _demo(args):
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from . import SNNClassifier

    X, y = load_digits(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=args.random_state
    )
    print(f"digits: {len(X_train)} training rows, {len(X_test)} test rows, {X.shape[1]} features")
    model = SNNClassifier(random_state=args.random_state, max_iter=args.max_iter)
    start = time.perf_counter()
    model.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - start
    print(f"fit time:  {fit_seconds:.2f} s ({model.n_iter_} epochs)")
    print(f"accuracy:  {model.score(X_test, y_test):.4f}")
    record = model.simulate(X_test.iloc[:200])
    print("spike activity on 200 test rows (mean spikes per neuron per time step):")
    for name, rate in record.firing_rates.items():
        print(f"  {name:<10} {rate:.3f}")
    return 0


# ------------------------------------------------------------------ parser and main
def build_parser():
    """The argument parser of the ``pynmsnn`` command."""
    from . import __version__

    parser = _Parser(prog="pynmsnn", description="Spiking neural networks, scikit-learn style.")
    parser.add_argument("--version", action="version", version=f"pynmsnn {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{fit,predict,info,demo}")

    fit = commands.add_parser("fit", help="fit a model on a CSV file and save it",
                              description="Fit SNNClassifier or SNNRegressor on a CSV file, "
                              "measure it on a held-out split and save it.")
    fit.add_argument("data", help="CSV file with a header row")
    fit.add_argument("--target", required=True, metavar="COLUMN", help="the column to predict")
    fit.add_argument("--task", choices=["auto", "classification", "regression"], default="auto",
                     help="auto: labels for text, bool and few-valued integer targets, else regression")
    fit.add_argument("--model", metavar="FILE", help="where to save the model (default: DATA's name with .pnm)")
    fit.add_argument("--report", metavar="FILE", help="also write the report as JSON to this file")
    fit.add_argument("--test-size", type=float, default=0.2, metavar="X",
                     help="share of rows held out to measure the model; 0 fits on all (default: 0.2)")
    _add_estimator_options(fit)
    fit.set_defaults(run=_fit)

    predict = commands.add_parser("predict", help="predict a CSV file with a saved model",
                                  description="Write the predictions of a saved model for each row of a CSV file.")
    predict.add_argument("model", help="a model file written by 'pynmsnn fit' or pynmsnn.save")
    predict.add_argument("data", help="CSV file with the model's feature columns (others are ignored)")
    predict.add_argument("--output", metavar="FILE", help="CSV file to write (default: standard output)")
    predict.add_argument("--proba", action="store_true", help="add a probability column per class (classifiers)")
    predict.set_defaults(run=_predict)

    info = commands.add_parser("info", help="describe a saved model, or this machine's engine paths",
                               description="Describe a saved model; without one, list the engine paths "
                               "that run on this machine (the C kernel, event-driven prediction, bfloat16, "
                               "int8, CUDA) and why the others do not.")
    info.add_argument("model", nargs="?", help="a model file written by 'pynmsnn fit' or pynmsnn.save")
    info.set_defaults(run=_info)

    demo = commands.add_parser("demo", help="fit SNNClassifier on the digits dataset and report")
    demo.add_argument("--random-state", type=int, default=0)
    demo.add_argument("--max-iter", type=int, default=200)
    demo.set_defaults(run=_demo)
    return parser


def _one_line(error):
    text = " ".join(str(error).split())
    return text or type(error).__name__


def _names(names, limit=10):
    names = [str(n) for n in names]
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"pynmsnn: warning: {_one_line(message)}", file=sys.stderr)


def main(argv=None):
    """Run the command line; returns the exit status.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments; ``sys.argv[1:]`` when None.

    Returns
    -------
    int
        0 on success, 1 on an error, 2 on a usage error.
    """
    status = 1
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            status = 2
            args = build_parser().parse_args(argv)
            status = 1
            return args.run(args)
    except KeyboardInterrupt:
        print("pynmsnn: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (``pynmsnn predict ... | head``): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except Exception as error:  # noqa: BLE001 - the command reports every failure as one line
        print(f"pynmsnn: error: {_one_line(error)}", file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
