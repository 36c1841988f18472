import erlen

PLUGIN = erlen.Plugin(name="blog")
