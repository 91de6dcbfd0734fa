"""Oracle checks for TL301-TL303 with scikit-learn's StandardScaler."""

import numpy as np
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(40, 3)), rng.integers(0, 2, 40)


# TL301 claim: the scaler is fitted on the test rows
def case_fit_on_test():
    X, y = _data()
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    scaler = StandardScaler().fit(X_test)  # expect: TL301
    return scaler.transform(X_train)


# TL301 claim: manual split; training rows found by name
def case_fit_on_validation_manual_split():
    X, _ = _data()
    X_train, X_val = X[:30], X[30:]
    scaler = StandardScaler()
    scaler.fit(X_val)  # expect: TL301
    return scaler.transform(X_train)


# TL302 claim: fitted on the whole data, which is split afterwards
def case_fit_before_split():
    X, y = _data()
    scaled = StandardScaler().fit_transform(X)  # expect: TL302
    return train_test_split(scaled, y, random_state=0)


# TL301/TL302 trap: fitted on the training rows only
def case_fit_on_train():
    X, y = _data()
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_test)


# TL303 claim: a 1-D array where [n_samples, n_features] is expected
def case_scaler_on_1d():
    X, _ = _data()
    try:
        StandardScaler().fit(X[:, 0])  # expect: TL303
    except ValueError:
        return None


# TL303 trap: the column kept 2-D
def case_scaler_on_column():
    X, _ = _data()
    return StandardScaler().fit_transform(X[:, [0]])
