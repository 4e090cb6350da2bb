"""Training of the GAN, the encoder, the classifiers, the attribute regressor and the landmark model on the
built-in data set (:mod:`neuralcollage.datasets`)."""
