"""Storage back ends behind one interface (`qa.stores.base`)."""
