"""Training code of the agent room (the learned question-type classifier).

Nothing that answers a question imports this package: the layering contract (``.importlinter``) forbids
it, so answering never loads scikit-learn or training data. It may import the rest of ``agent`` and the
rooms below.
"""
