import erlen

PLUGIN = erlen.Plugin(name="ping", requires=["pong"])
