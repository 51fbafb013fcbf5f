"""Framework integrations on top of `mlmon_tui.client`. Each submodule imports its framework,
so import only the one you use:

    from mlmon_tui.integrations.torch import watch                  # PyTorch gradient norms
    from mlmon_tui.integrations.lightning import MlmonCallback      # Lightning
    from mlmon_tui.integrations.hf import MlmonTrainerCallback      # Hugging Face Trainer
    from mlmon_tui.integrations.keras import MlmonKerasCallback     # Keras 3
    from mlmon_tui.integrations.metrics import classification       # metrics, no monitor
"""
