"""A validation error that knows which field it is about.

Cross-field checks run in model validators, where pydantic reports the error at
the model's location; raising ``FieldError`` lets the error message name the
exact field (``spec.load.duration``) instead of its parent. A tuple names a path
whose parts may hold dots themselves (a header name, a map key).
"""


class FieldError(ValueError):
    def __init__(self, field: str | tuple[str, ...], message: str):
        super().__init__(message)
        self.path = tuple(field.split(".")) if isinstance(field, str) else field
        self.field = ".".join(self.path)
