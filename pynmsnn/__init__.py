"""pynmsnn: spiking neural network estimators with a scikit-learn API.

>>> from pynmsnn import SNNClassifier, SNNRegressor
"""

from .estimators import SNNClassifier, SNNRegressor

__version__ = "0.1.0"

__all__ = ["SNNClassifier", "SNNRegressor", "__version__"]
