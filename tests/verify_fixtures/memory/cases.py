"""A case that allocates far more than the memory cap allows."""


def case_allocates_two_gib():
    return bytearray(2 * 1024**3)
