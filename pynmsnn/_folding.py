"""Predict without writing out wide one-hot blocks: fold them into the first layer.

A one-hot block of a column with ``K`` categories feeds the first hidden layer
``W[:, block] @ one_hot``, which is one column of ``W``: the column of the
row's category (none when unseen). Written out as a dense matrix, the block
costs rows x K in memory and in the first layer's multiply; for a column of
thousands of values that is most of the work of predict.

At inference the first layer sees a constant current (every encoder but
'latency'; :func:`pynmsnn.encoders.mean_current`), so the block can be folded:
the row's input carries the category's column of ``W`` itself (``H`` values,
``H`` the width of the first layer), and the first layer multiplies those
values by an identity matrix. The input then grows with the rows times ``H``,
whatever ``K`` is, and a block is folded only where ``K > H``. The sums are
the same: each output of the first layer still adds, in the same order, the
numeric terms and the one weight of each category (the other terms, products
with 0, add nothing); a current scaled by the encoder (``x / 2`` for 'noisy')
scales the folded values alike.

The folded network is a copy of the fitted one that shares its weights, with
its first layer replaced; the fitted network is never modified.
"""

import copy

import numpy as np
import torch
from torch import nn

from ._tabular import one_hot_rows
from .encoders import mean_current

__all__ = ["fold_one_hot"]


def fold_one_hot(module, numeric, codes, category_counts):
    """The network and input rows to predict with, folding one-hot blocks that pay.

    Parameters
    ----------
    module : pynmsnn.network.SpikingNetwork
        The fitted network, fed by the scaled numeric columns then one
        one-hot block per categorical column.
    numeric : ndarray of shape (n_samples, n_numeric), float32
        The scaled numeric columns (:meth:`pynmsnn._tabular.TableEncoding.encode`).
    codes : ndarray of shape (n_samples, n_categorical), int
        The category of each row in each categorical column, -1 when unseen.
    category_counts : list of int
        Number of categories of each categorical column.

    Returns
    -------
    module : pynmsnn.network.SpikingNetwork
        ``module`` itself, or a copy whose first layer takes the folded input.
    rows : ndarray of shape (n_samples, n_inputs), float32
        The input rows for that network.
    """
    folds = _blocks_to_fold(module, category_counts)
    if not any(folds):
        return module, one_hot_rows(numeric, codes, category_counts)
    first = module.hidden[0]
    weight = first.weight.detach()
    host_weight = weight.float().cpu().numpy()
    n_rows, width = len(numeric), first.out_features
    columns = [numeric]
    weights = [weight[:, : numeric.shape[1]]]
    offset = numeric.shape[1]
    for k, (count, fold) in enumerate(zip(category_counts, folds)):
        block = slice(offset, offset + count)
        if fold:
            # Row -1 (an unseen category) picks the appended row of zeros.
            table = np.concatenate([host_weight[:, block].T, np.zeros((1, width), np.float32)])
            columns.append(table[codes[:, k]])
            weights.append(torch.eye(width, dtype=weight.dtype, device=weight.device))
        else:
            columns.append(one_hot_rows(np.empty((n_rows, 0), np.float32), codes[:, [k]], [count]))
            weights.append(weight[:, block])
        offset += count
    return _with_first_weight(module, torch.cat(weights, dim=1)), np.concatenate(columns, axis=1)


def _blocks_to_fold(module, category_counts):
    """Which one-hot blocks fold: wider than the first layer, with a constant-current input."""
    if not len(module.hidden) or mean_current(torch.zeros(1), module.encoder) is None:
        return [False] * len(category_counts)
    width = module.hidden[0].out_features
    return [count > width for count in category_counts]


def _with_first_weight(module, weight):
    """A copy of ``module``, sharing its weights, whose first hidden layer has ``weight`` (same bias)."""
    first = module.hidden[0]
    # Built on the meta device: no memory and no random draw (nn.utils.skip_init would
    # import sympy, most of a second, on its first call); its tensors are replaced below.
    layer = nn.Linear(weight.shape[1], weight.shape[0], device="meta")
    layer.weight = nn.Parameter(weight, requires_grad=False)
    layer.bias = first.bias
    # A copy of the module objects that shares every weight (deepcopy finds them in its memo).
    shared = {id(tensor): tensor for tensor in (*module.parameters(), *module.buffers())}
    folded = copy.deepcopy(module, shared)
    folded.hidden[0] = layer
    return folded
