"""A validation error that knows which field it is about.

Cross-field checks run in model validators, where pydantic reports the error at
the model's location; raising ``FieldError`` lets the error message name the
exact field (``spec.load.duration``) instead of its parent.
"""


class FieldError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
