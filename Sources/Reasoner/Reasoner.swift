// Reasoner
