from enum import StrEnum


class ExplanationCleaning(StrEnum):
    END_USER = "end_user"

    def __str__(self) -> str:
        return str(self.value)
