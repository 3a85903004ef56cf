"""Four letters: output neurons that each learn to spike for one letter.

The task of the original pynmsnn demo: four letters drawn as 5 x 3 pixel
bitmaps (L, O, T, X). The training set holds noisy copies, each pixel flipped
with probability 0.1, as a DataFrame of 15 pixel columns. An
``SNNClassifier(readout="spikes")`` has four output neurons whose spike counts
are the class scores, so each one learns to fire for its letter and to stay
quiet for the others.

The figure shows, for one noisy test copy of each letter, the bitmap (red
crosses mark flipped pixels) and the spikes of the four output neurons over
time; on the right, the mean spike count of each output neuron over all test
copies of each letter: the diagonal dominates.

Run it with ``python examples/plot_four_letters.py``; the figure goes to
``figures/four_letters.png`` (``--output-dir`` to change).
"""

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # write files; no window

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from pynmsnn import SNNClassifier  # noqa: E402
from pynmsnn.plotting import SpikeRasterDisplay  # noqa: E402

FIGURES = Path(__file__).resolve().parent.parent / "figures"
LETTERS = {
    "L": ["#..", "#..", "#..", "#..", "###"],
    "O": ["###", "#.#", "#.#", "#.#", "###"],
    "T": ["###", ".#.", ".#.", ".#.", ".#."],
    "X": ["#.#", "#.#", ".#.", "#.#", "#.#"],
}
SHAPE = (5, 3)
PIXELS = [f"r{i + 1}c{j + 1}" for i in range(SHAPE[0]) for j in range(SHAPE[1])]
FLIP_PROBABILITY = 0.1


def bitmap(letter):
    """The 15 pixels of a letter, row by row, as 0/1."""
    return np.array([[char == "#" for char in line] for line in LETTERS[letter]], dtype=float).ravel()


def noisy_copies(n_per_letter, rng):
    """``n_per_letter`` copies of each letter with pixels flipped at random."""
    rows, labels = [], []
    for letter in LETTERS:
        flips = rng.random((n_per_letter, len(PIXELS))) < FLIP_PROBABILITY
        rows.append(np.abs(bitmap(letter) - flips))
        labels += [letter] * n_per_letter
    return pd.DataFrame(np.vstack(rows), columns=PIXELS), pd.Series(labels, name="letter")


def draw_bitmap(ax, pixels, letter):
    """A copy of a letter, with its flipped pixels crossed out."""
    ax.imshow(pixels.reshape(SHAPE), cmap="Greys", vmin=0, vmax=1)
    flipped = np.flatnonzero(pixels != bitmap(letter))
    rows, cols = np.unravel_index(flipped, SHAPE)
    ax.scatter(cols, rows, marker="x", color="tab:red", s=60)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(f"noisy '{letter}': {len(flipped)} pixel{'' if len(flipped) == 1 else 's'} flipped",
                 fontsize="medium")


def draw_mean_spikes(ax, clf, X_test, y_test):
    """Mean spike count of each output neuron (columns) for each letter (rows)."""
    counts = clf.simulate(X_test).spikes[-1].sum(axis=0)  # (n_rows, n_outputs)
    letters = list(clf.classes_)
    means = np.array([counts[(y_test == letter).to_numpy()].mean(axis=0) for letter in letters])
    winners = ", ".join(f"'{letter}' -> neuron {letters[j]}" for letter, j in zip(letters, means.argmax(axis=1)))
    print(f"output neuron with the most spikes per letter: {winners}")
    image = ax.imshow(means, cmap="Reds", vmin=0, vmax=clf.n_steps)
    for (i, j), value in np.ndenumerate(means):
        ax.text(j, i, f"{value:.1f}", ha="center", va="center",
                color="white" if value > clf.n_steps / 2 else "black")
    ax.set_xticks(range(len(letters)), [f"neuron {letter}" for letter in letters])
    ax.set_yticks(range(len(letters)), [f"'{letter}'" for letter in letters])
    ax.set_xlabel("output neuron")
    ax.set_ylabel("letter shown")
    ax.set_title(f"mean output spikes (of {clf.n_steps} steps),\n"
                 f"{len(X_test) // len(letters)} noisy test copies per letter")
    ax.figure.colorbar(image, ax=ax, shrink=0.7, label="spikes per copy")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=FIGURES, help="where to write the PNG")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    X_train, y_train = noisy_copies(60, rng)
    X_test, y_test = noisy_copies(50, rng)
    clf = SNNClassifier(
        hidden_layer_sizes=(32,), n_steps=16, readout="spikes", learning_rate_init=0.005,
        max_iter=150, random_state=0,
    ).fit(X_train, y_train)
    accuracy = clf.score(X_test, y_test)
    print(f"four letters: {len(X_train)} noisy training copies, {clf.n_iter_} epochs")
    print(f"test accuracy: {accuracy:.3f}")

    fig = plt.figure(figsize=(15, 6.5), layout="constrained")
    columns = fig.subfigures(1, len(LETTERS) + 1, width_ratios=[1] * len(LETTERS) + [1.9])
    for letter, column in zip(clf.classes_, columns):
        # The first test copy with a flipped pixel: a clean one would be too easy.
        flipped = (X_test.to_numpy() != bitmap(letter)).any(axis=1)
        row = int(np.flatnonzero((y_test == letter).to_numpy() & flipped)[0])
        top, bottom = column.subfigures(2, 1, height_ratios=[1.2, 1])
        draw_bitmap(top.subplots(), X_test.iloc[row].to_numpy(), letter)
        SpikeRasterDisplay.from_estimator(clf, X_test, row=row, layers=["output"], figure=bottom)
        bottom.suptitle("output neurons over time", fontsize="medium")
    draw_mean_spikes(columns[-1].subplots(), clf, X_test, y_test)
    fig.suptitle(f"SNNClassifier(readout='spikes') on four noisy 5x3 letters: test accuracy {accuracy:.3f}",
                 fontsize="x-large")

    args.output_dir.mkdir(parents=True, exist_ok=True)
    path = args.output_dir / "four_letters.png"
    fig.savefig(path, dpi=100)
    print(f"saved {path}")


if __name__ == "__main__":
    main()
