"""A bundled Flask WebShop."""
