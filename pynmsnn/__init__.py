"""pynmsnn: spiking neural network estimators with a scikit-learn API.

>>> from pynmsnn import SNNClassifier, SNNRegressor
"""

from .estimators import SNNClassifier, SNNRegressor
from .persistence import load, save

__version__ = "0.1.0"

__all__ = ["SNNClassifier", "SNNRegressor", "__version__", "load", "save"]
