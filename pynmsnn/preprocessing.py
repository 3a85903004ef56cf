"""The estimators' own input step as a scikit-learn transformer.

:class:`TableScaler` is what :class:`~pynmsnn.SNNClassifier` and
:class:`~pynmsnn.SNNRegressor` do to a table before their network sees it
(with ``preprocess=True``, their default): numeric columns min-max scaled to
[0, 1] (clipped at transform), categorical DataFrame columns one-hot encoded,
categories matched by value. As a transformer it can be inspected, reused in
a pipeline of one's own, or put in front of an estimator fitted with
``preprocess=False``; a fitted estimator's own step is its ``preprocessor_``.
"""

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ._input import check_X
from ._tabular import TableEncoding

__all__ = ["TableScaler"]


class TableScaler(TransformerMixin, BaseEstimator):
    """Scale numeric columns to [0, 1] and one-hot encode categorical ones.

    Numeric columns (numbers, booleans, text that is all numbers) are scaled
    by the range seen in ``fit`` and clipped to [0, 1] at transform; a
    constant column becomes 0. Columns of a DataFrame with a category,
    object or string dtype are one-hot encoded: one output per category,
    missing values a category of their own, a category not seen in fit all
    zeros. Categories are matched by value, so ``1``, ``1.0``, ``True`` and
    ``'1'`` are one category, and a column that comes back as another dtype
    keeps its meaning. Free text, dates and numbers with stray words are
    refused with the column named and the fix.

    The output is float32, the dtype the spiking networks compute in.

    Attributes
    ----------
    n_features_in_ : int
        Number of columns seen in fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names seen in fit, when they are all strings.
    numeric_features_ : ndarray of str
        Names of the scaled columns, in the order of the output.
    categorical_features_ : ndarray of str
        Names of the one-hot encoded columns, in the order of the output.
    categories_ : list of ndarray
        The categories of each categorical column, in the order of its
        outputs.
    data_min_, data_max_ : ndarray of shape (n_numeric,)
        Range of each numeric column in fit.

    See Also
    --------
    sklearn.preprocessing.MinMaxScaler : The scaling of numeric columns, without clipping by default.
    sklearn.preprocessing.OneHotEncoder : The encoding of categorical ones.

    Examples
    --------
    >>> import pandas as pd
    >>> from pynmsnn.preprocessing import TableScaler
    >>> frame = pd.DataFrame({"size": [1.0, 3.0, 2.0], "colour": ["red", "blue", "red"]})
    >>> scaler = TableScaler().fit(frame)
    >>> scaler.transform(frame)
    array([[0. , 0. , 1. ],
           [1. , 1. , 0. ],
           [0.5, 0. , 1. ]], dtype=float32)
    >>> scaler.get_feature_names_out().tolist()
    ['size', 'colour=blue', 'colour=red']
    >>> scaler.set_output(transform="pandas").transform(frame.iloc[:1])
       size  colour=blue  colour=red
    0   0.0          0.0         1.0
    """

    def fit(self, X, y=None):
        """Learn each column's kind, the numeric ranges and the categories.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            The table.
        y : None
            Ignored.

        Returns
        -------
        self : TableScaler
        """
        X = check_X(self, X, reset=True)
        self._set_encoding(TableEncoding().fit(X))
        return self

    def transform(self, X):
        """The table as the networks take it.

        Parameters
        ----------
        X : {array-like, sparse matrix, DataFrame} of shape (n_samples, n_features)
            Rows with the columns of fit, in their order.

        Returns
        -------
        ndarray of shape (n_samples, n_features_out), float32
            Scaled numeric columns, then each categorical column's one-hot
            block; :meth:`get_feature_names_out` names them.
        """
        check_is_fitted(self, "categories_")
        X = check_X(self, X, reset=False)
        self._encoding.check_container(X, type(self).__name__)
        return self._encoding.transform(X)

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: a numeric column's name, ``column=value`` for a one-hot one.

        Parameters
        ----------
        input_features : array-like of str, optional
            The input column names; when given, they must be those of fit
            (or, without names in fit, as many as its columns).

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self, "categories_")
        names = self._input_names(input_features)
        return np.asarray(self._encoding.output_names_for(names), dtype=object)

    def _input_names(self, input_features):
        fitted = getattr(self, "feature_names_in_", None)
        if input_features is None:
            return list(fitted) if fitted is not None else [f"x{j}" for j in range(self.n_features_in_)]
        given = [str(name) for name in input_features]
        if fitted is not None and given != list(fitted):
            raise ValueError(
                f"input_features {given} are not the column names of fit {list(fitted)}; "
                "pass those, or None."
            )
        if len(given) != self.n_features_in_:
            raise ValueError(
                f"input_features has {len(given)} names, but {type(self).__name__} was fitted on "
                f"{self.n_features_in_} columns; pass one name per column, or None."
            )
        return given

    def _set_encoding(self, encoding):
        """Hold a fitted :class:`~pynmsnn._tabular.TableEncoding` and set the public attributes from it."""
        self._encoding = encoding
        self.numeric_features_ = np.asarray([encoding.names_[j] for j in encoding.numeric_], dtype=object)
        self.categorical_features_ = np.asarray([encoding.names_[j] for j in encoding.categorical_], dtype=object)
        self.categories_ = [np.array(categories, copy=True) for categories in encoding.categories_]
        low, high = zip(*encoding.ranges()) if encoding.numeric_ else ((), ())
        self.data_min_ = np.asarray(low, dtype=np.float64)
        self.data_max_ = np.asarray(high, dtype=np.float64)

    @classmethod
    def from_encoding(cls, encoding, n_features_in, feature_names_in=None):
        """A fitted TableScaler that holds ``encoding``, fitted elsewhere (an estimator's own step).

        Parameters
        ----------
        encoding : pynmsnn._tabular.TableEncoding
            Fitted with min-max scaling.
        n_features_in : int
        feature_names_in : ndarray of str, optional

        Returns
        -------
        TableScaler
        """
        if encoding.scaling_ != "minmax" or len(encoding.names_) != n_features_in:
            raise ValueError(
                f"a TableScaler holds a min-max scaling of {n_features_in} columns, got scaling "
                f"{encoding.scaling_!r} of {len(encoding.names_)} columns."
            )
        return cls()._fitted_from(encoding, n_features_in, feature_names_in)

    def _fitted_from(self, encoding, n_features_in, feature_names_in):
        self.n_features_in_ = int(n_features_in)
        if feature_names_in is not None:
            self.feature_names_in_ = np.asarray(feature_names_in, dtype=object)
        self._set_encoding(encoding)
        return self

    def get_fitted_state(self):
        """The fitted state as plain values, for :func:`pynmsnn.save`.

        Returns
        -------
        dict
            ``scaler`` (the encoding's state), ``n_features_in_`` and
            ``feature_names_in_`` (None without names).
        """
        check_is_fitted(self, "categories_")
        names = getattr(self, "feature_names_in_", None)
        return {"scaler": self._encoding.get_state(), "n_features_in_": self.n_features_in_,
                "feature_names_in_": None if names is None else np.asarray(names, dtype=object)}

    @classmethod
    def from_fitted_state(cls, state):
        """The fitted TableScaler :meth:`get_fitted_state` described, every field checked.

        Raises
        ------
        ValueError
            Naming the field that is missing, of the wrong type or shape.
        """
        if not isinstance(state, dict) or set(state) != {"scaler", "n_features_in_", "feature_names_in_"}:
            raise ValueError(
                "a TableScaler's fitted state must be a dict of scaler, n_features_in_ and "
                f"feature_names_in_, got {state!r:.200}."
            )
        encoding = TableEncoding.from_state(state["scaler"])
        n_features, names = state["n_features_in_"], state["feature_names_in_"]
        if not isinstance(n_features, int) or isinstance(n_features, bool):
            raise ValueError(f"a TableScaler's n_features_in_ must be an int, got {n_features!r}.")
        if names is not None and (not isinstance(names, np.ndarray) or names.shape != (n_features,)
                                  or list(names) != encoding.names_):
            raise ValueError(
                f"a TableScaler's feature_names_in_ must be the {n_features} column names of its "
                f"scaling {encoding.names_}, got {names!r:.200}."
            )
        return cls.from_encoding(encoding, n_features, names)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True  # DataFrame columns of text, categories or booleans
        tags.input_tags.sparse = True  # densified, as the estimators accept it
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

