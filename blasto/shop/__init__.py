"""The shop's rules, shared by the pages and the API: money, carts, checkout, catalog."""
