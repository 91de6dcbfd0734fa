"""A data script the tests never run: verify must not execute it (it would leave a marker file)."""

import pathlib

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

pathlib.Path(__file__).with_name("PREPARE_DATA_RAN").write_text("the data script ran\n")
features = np.random.default_rng(0).normal(size=(100, 3))
scaled = StandardScaler().fit_transform(features)
train, test = train_test_split(scaled, test_size=0.2, random_state=0)
