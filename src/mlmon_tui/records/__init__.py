"""Record types shared along the data flow: sources produce them, everything after reads them."""
