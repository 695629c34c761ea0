"""What keeps a patient unidentifiable: national-identifier detection, keyed pseudonyms, and the
identifier gate a bundle must pass.
"""
