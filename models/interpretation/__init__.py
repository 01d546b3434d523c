"""The learned complement to the ECG interpretation criteria (issue 14): features from what ``ecg_intervals``
measured and a small calibrated model per PTB-XL diagnostic class, compared with the criteria in
patient-grouped cross-validation (``bench/ptbxl_learned_classes.py``). It may import ``cardioagent.tools``
only, like the rest of ``cardioagent.models``.
"""
