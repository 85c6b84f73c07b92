// TaskFolder
