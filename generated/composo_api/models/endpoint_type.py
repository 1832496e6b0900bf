from enum import StrEnum


class EndpointType(StrEnum):
    REWARD = "reward"
    TRACE = "trace"

    def __str__(self) -> str:
        return str(self.value)
