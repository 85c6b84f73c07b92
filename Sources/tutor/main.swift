import ArgumentParser
print("tutor")
