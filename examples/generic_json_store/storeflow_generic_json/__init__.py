"""A generic JSON store for storeflow: an example of a provider in its own distribution."""
