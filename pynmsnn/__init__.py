"""pynmsnn: spiking neural network estimators with a scikit-learn API.

>>> from pynmsnn import SNNClassifier, SNNRegressor
"""

from .estimators import SNNClassifier, SNNRegressor
from .persistence import load, save
from .preprocessing import TableScaler

__version__ = "0.1.0"

__all__ = ["SNNClassifier", "SNNRegressor", "TableScaler", "__version__", "load", "save"]
