from enum import StrEnum


class ModelCore(StrEnum):
    ALIGN_20250529 = "align-20250529"
    ALIGN_20251111 = "align-20251111"
    ALIGN_20260109 = "align-20260109"
    ALIGN_LIGHTNING_20250731 = "align-lightning-20250731"
    ALIGN_LIGHTNING_20251127 = "align-lightning-20251127"

    def __str__(self) -> str:
        return str(self.value)
