// Teacher
