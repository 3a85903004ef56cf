"""Table -> [0, 1] matrix: min-max scaling of numeric columns, one-hot of categorical ones.

Spiking inputs want values in [0, 1] (a firing probability, a current below a
few thresholds), so every estimator scales its input itself, fitted on the
training data and clipped at predict time. Columns of a pandas DataFrame with a
category, object, string or bool dtype are one-hot encoded; a category not seen
in fit becomes all zeros.
"""

import numpy as np
import pandas as pd

__all__ = ["TableScaler", "is_dataframe"]

MISSING_CATEGORY = "<missing>"


def is_dataframe(X):
    """Whether ``X`` is a pandas DataFrame."""
    return isinstance(X, pd.DataFrame)


def _is_categorical(column):
    return not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def _as_strings(column):
    """A categorical column as plain strings; missing values become one category."""
    values = column.astype(object)
    return np.where(pd.isna(values), MISSING_CATEGORY, values.astype(str)).astype(object)


def _numeric_values(frame, columns, names):
    """Numeric columns as float64, refusing NaN and infinity by column name."""
    values = np.empty((len(frame), len(columns)), dtype=np.float64)
    for j, column in enumerate(columns):
        try:
            values[:, j] = frame.iloc[:, column].to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError) as error:
            raise ValueError(f"Column {names[column]!r} could not be read as numbers: {error}") from None
        bad = ~np.isfinite(values[:, j])
        if bad.any():
            rows = np.flatnonzero(bad)[:5].tolist()
            kind = "NaN" if np.isnan(values[bad, j]).any() else "infinity"
            raise ValueError(
                f"Input X contains {kind} in column {names[column]!r} (rows {rows}); "
                "impute or drop them first, e.g. with sklearn.impute.SimpleImputer."
            )
    return values


class TableScaler:
    """Scale numeric columns to [0, 1]; one-hot encode categorical DataFrame columns.

    Examples
    --------
    >>> import pandas as pd
    >>> from pynmsnn._tabular import TableScaler
    >>> frame = pd.DataFrame({"size": [1.0, 3.0, 2.0], "colour": ["red", "blue", "red"]})
    >>> TableScaler().fit(frame).transform(frame)
    array([[0. , 0. , 1. ],
           [1. , 1. , 0. ],
           [0.5, 0. , 1. ]], dtype=float32)
    """

    def fit(self, X):
        """Learn column kinds, numeric ranges and categories from ``X``."""
        if is_dataframe(X):
            self.names_ = [str(name) for name in X.columns]
            kinds = [_is_categorical(X.iloc[:, j]) for j in range(X.shape[1])]
            self.numeric_ = [j for j, categorical in enumerate(kinds) if not categorical]
            self.categorical_ = [j for j, categorical in enumerate(kinds) if categorical]
            self.categories_ = [np.unique(_as_strings(X.iloc[:, j])) for j in self.categorical_]
            numeric = _numeric_values(X, self.numeric_, self.names_)
        else:
            self.names_ = [f"x{j}" for j in range(X.shape[1])]
            self.numeric_, self.categorical_, self.categories_ = list(range(X.shape[1])), [], []
            numeric = np.asarray(X, dtype=np.float64)
        self.min_ = numeric.min(axis=0) if len(numeric) else np.zeros(numeric.shape[1])
        span = (numeric.max(axis=0) if len(numeric) else self.min_) - self.min_
        # A constant column scales to 0 rather than dividing by zero.
        self.scale_ = np.where(span > 0, 1.0 / np.where(span > 0, span, 1.0), 0.0)
        return self

    @property
    def n_outputs(self):
        """Width of the transformed matrix."""
        return len(self.numeric_) + sum(len(c) for c in self.categories_)

    @property
    def output_names(self):
        """Name of each transformed column (``column=value`` for one-hot ones)."""
        names = [self.names_[j] for j in self.numeric_]
        for j, categories in zip(self.categorical_, self.categories_):
            names.extend(f"{self.names_[j]}={value}" for value in categories)
        return names

    def transform(self, X):
        """Scaled float32 matrix; values outside the fitted range are clipped."""
        if is_dataframe(X):
            numeric = _numeric_values(X, self.numeric_, self.names_)
        else:
            numeric = np.asarray(X, dtype=np.float64)
        scaled = np.clip((numeric - self.min_) * self.scale_, 0.0, 1.0)
        blocks = [scaled.astype(np.float32)]
        for j, categories in zip(self.categorical_, self.categories_):
            values = _as_strings(X.iloc[:, j])
            # Unseen categories match no column: all zeros.
            blocks.append((values[:, None] == categories[None, :]).astype(np.float32))
        return np.concatenate(blocks, axis=1) if len(blocks) > 1 else blocks[0]
