import erlen

PLUGIN = erlen.Plugin(name="shop", requires=["db"])
