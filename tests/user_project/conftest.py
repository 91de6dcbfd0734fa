import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def pytest_ignore_collect(collection_path, config):
    # This folder is a user's project inside torchlint's own test tree: it is tested by running
    # it as a project of its own (tests/test_verify_user.py), never collected by torchlint's suite.
    if str(config.rootpath) != HERE:
        return True
    return None
