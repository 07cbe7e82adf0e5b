"""A tiny pricing module: the application the example pipeline builds, tests and deploys."""


def net_price(gross: float, vat_percent: float) -> float:
    """Price without VAT, rounded to cents."""
    if vat_percent < 0:
        raise ValueError("VAT cannot be negative")
    return round(gross / (1 + vat_percent / 100), 2)


def discount(price: float, percent: float) -> float:
    """Apply a percentage discount (0-100)."""
    if not 0 <= percent <= 100:
        raise ValueError("discount must be between 0 and 100")
    return round(price * (1 - percent / 100), 2)
